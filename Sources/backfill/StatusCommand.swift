import ArgumentParser
import BackfillCore
import BackfillServer
import Foundation

/// `backfill status [ID]`: a table of connections with health and progress.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show connections with their health, backfill state, progress and ETA."
    )

    @OptionGroup var service: ServiceOptions
    @Argument(help: "One connection's id (default: every connection).")
    var id: String?

    func run() async throws {
        let client = service.client()
        let connections = if let id { [try await client.connection(id)] } else { try await client.connections() }
        print(Self.table(connections), terminator: "")
        if let id, let connection = connections.first {
            if let backfill = connection.backfill { print(TerminalText.escaped("\(id): \(ProgressText.line(backfill, provider: connection.provider))")) }
            // The connection's own trouble (a refused token) when the backfill's line does not already say it.
            if let error = connection.error, connection.backfill?.error == nil {
                print(TerminalText.escaped("\(id): \(error.code.rawValue): \(error.message)"))
            }
            if let failing = connection.realtime?.failing {
                print(TerminalText.escaped("\(id): \(StatusLine.delayed(failing, now: Date()))"))
            }
        }
    }

    static func table(_ connections: [ConnectionView]) -> String {
        let header = ["ID", "PROVIDER", "ADDRESS", "HEALTH", "STATE", "PULLED", "ETA"]
        let rows = connections.map { connection -> [String] in
            let backfill = connection.backfill
            return [
                connection.id, connection.provider.rawValue, connection.address,
                connection.health.rawValue + (connection.realtime?.failing != nil ? " (mail delayed)" : ""),
                backfill.map { $0.state.rawValue + ($0.stalled && !$0.state.isFinished ? " (stalled)" : "") } ?? "-",
                backfill.map(ProgressText.shortCount) ?? "-", ProgressText.eta(backfill?.etaSeconds),
            ].map(TerminalText.escaped)
        }
        if rows.isEmpty { return "no connections\n" }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }
}
