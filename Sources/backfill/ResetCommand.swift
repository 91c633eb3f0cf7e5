import ArgumentParser
import BackfillCore

/// `backfill reset ID --range 12m`: starts the connection's backfill over with a new range.
struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Start a connection's backfill over with a new range (stored messages are kept)."
    )

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String
    @Option(help: "The history to pull: 30d, 90d, 12m or all.")
    var range: String

    func validate() throws {
        do {
            guard try BackfillRange(parsing: range) != .skip else { throw ValidationError("reset needs a range to pull: 30d, 90d, 12m or all") }
        } catch let error as InputError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        try await ConnectionAction.perform("/backfill/reset", on: id, service: service, done: "reset to \(range)", body: ["range": range])
    }
}
