import ArgumentParser

/// `backfill pause ID`: Pause the backfill at the end of its current page.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause the backfill at the end of its current page.")

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String

    func run() async throws {
        try await ConnectionAction.perform("/backfill/pause", on: id, service: service, done: "paused")
    }
}
