import ArgumentParser
import BackfillServer
import Foundation

/// `backfill watch ID`: follows a backfill until it ends. On a terminal, one progress bar redrawn in
/// place; otherwise a plain line whenever something changes. Exits 0 when it completes or is cancelled,
/// 1 when it fails.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow a backfill live (progress bar, count, ETA) until it ends."
    )

    @OptionGroup var service: ServiceOptions
    @Argument(help: "The connection's id.")
    var id: String
    @Option(help: ArgumentHelp("Seconds between looks at the service.", visibility: .hidden))
    var interval: Double = 1

    func validate() throws {
        guard interval > 0, interval <= 60 else { throw ValidationError("--interval must be between 0 and 60 seconds") }
    }

    func run() async throws {
        let client = service.client()
        let terminal = isatty(STDOUT_FILENO) == 1
        var lastChange = ""
        while true {
            let connection = try await client.connection(id)
            guard let backfill = connection.backfill else {
                throw CLIFailure.refused("\(id) has no backfill to watch; start one with the console or the API")
            }
            let line = TerminalText.escaped(ProgressText.line(backfill, provider: connection.provider))
            if terminal {
                // One line, cut to the terminal's width so it never wraps: back to its start, clear it, redraw.
                let fitted = StatusLine.watchLine(backfill, provider: connection.provider, now: Date(), columns: TerminalWidth.columns())
                FileHandle.standardOutput.write(Data("\r\u{1B}[K\(TerminalText.escaped(fitted))".utf8))
            }
            // Piped: a line when something changed, not when only a countdown ("next try in 12 s") ticked.
            let change = StatusLine.line(backfill, provider: connection.provider, now: .distantPast)
            if !terminal && change != lastChange {
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            lastChange = change
            if backfill.state.isFinished {
                if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
                if backfill.state == .failed {
                    throw CLIFailure.refused("the backfill failed: \(backfill.error?.message ?? "no reason given")")
                }
                return
            }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }
}
