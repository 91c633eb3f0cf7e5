import ArgumentParser

/// `backfill retry ID`: Retry a failed backfill.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Retry a failed backfill.")

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String

    func run() async throws {
        try await ConnectionAction.perform("/backfill/retry", on: id, service: service, done: "retrying")
    }
}
