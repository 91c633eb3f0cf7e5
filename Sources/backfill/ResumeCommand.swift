import ArgumentParser

/// `backfill resume ID`: Resume a paused backfill from its stored cursor.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused backfill from its stored cursor.")

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String

    func run() async throws {
        try await ConnectionAction.perform("/backfill/resume", on: id, service: service, done: "resumed")
    }
}
