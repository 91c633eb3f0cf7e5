import ArgumentParser

/// `backfill cancel ID`: Cancel the backfill for good; messages already pulled are kept.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel the backfill for good; messages already pulled are kept.")

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String

    func run() async throws {
        try await ConnectionAction.perform("/backfill/cancel", on: id, service: service, done: "cancelled")
    }
}
