import ArgumentParser
import BackfillSimulator
import Foundation

/// `backfill simulate`: serves the Graph and Gmail simulator until interrupted.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Serves simulated Microsoft Graph and Gmail APIs (and their OAuth endpoints) from a scenario."
    )

    @Option(help: "A scenario JSON file; without it, the built-in demo scenario.")
    var scenario: String?

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8090

    func run() async throws {
        let loaded = try scenario.map { try Scenario.load(contentsOf: URL(fileURLWithPath: $0)) } ?? Scenario.demo()
        let server = try await SimulatorServer.start(scenario: loaded, host: host, port: port)
        let lines = [
            "simulator listening on \(server.baseURL)",
            "  graph:   \(server.graphBaseURL)",
            "  login:   \(server.microsoftLoginBaseURL)/{tenant}/oauth2/v2.0/token",
            "  gmail:   \(server.gmailBaseURL)/gmail/v1",
            "  google:  \(server.googleOAuthBaseURL)/token",
            "  control: \(server.controlBaseURL)/mailboxes",
        ]
        // Written unbuffered so a script reading the pipe sees the address at once.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        await server.waitUntilStopped()
    }
}
