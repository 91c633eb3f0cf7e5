import ArgumentParser

@main
struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Pulls a mailbox's email history into a message store, then hands it to real-time sync.",
        subcommands: [SimulateCommand.self]
    )
}
