import ArgumentParser

/// `backfill nudge ID`: Wake the connection's worker at once (a stuck or stalled backfill).
struct NudgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nudge", abstract: "Wake the connection's worker at once (a stuck or stalled backfill).")

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String

    func run() async throws {
        try await ConnectionAction.perform("/nudge", on: id, service: service, done: "nudged")
    }
}
