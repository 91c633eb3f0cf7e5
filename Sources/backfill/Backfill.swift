import ArgumentParser

@main
struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Pulls a mailbox's email history into a message store, then hands it to real-time sync.",
        subcommands: [
            ServeCommand.self, StatusCommand.self, WatchCommand.self, PauseCommand.self, ResumeCommand.self,
            CancelCommand.self, RetryCommand.self, NudgeCommand.self, ResetCommand.self, SimulateCommand.self,
            DemoCommand.self,
        ]
    )
}
