import ArgumentParser
import BackfillCore
import BackfillHTTP
import BackfillServer
import BackfillSimulator
import Foundation
import Logging

/// `backfill demo`: the whole system on one machine with embedded defaults — a private redis-server and
/// SQLite under the data directory, the provider simulator with the sample scenario (an 8,500-message
/// Microsoft 365 mailbox, a shared mailbox under it, a Gmail mailbox), and the service, with the demo
/// mailboxes connected and waiting for a range to be picked in the console.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run Backfill against the built-in provider simulator, with a private Redis and SQLite."
    )

    @Option(help: "host:port for the console and API.")
    var listen = "127.0.0.1:8080"
    @Option(name: .customLong("data-dir"), help: "Where the demo keeps Redis and SQLite files.")
    var dataDirectory = "backfill-demo-data"
    @Option(name: .customLong("simulator-port"), help: "Port of the provider simulator (0: any free port).")
    var simulatorPort = 0
    @Option(help: "A scenario file for the simulator (default: the sample scenario).")
    var scenario: String?

    func run() async throws {
        let scenario = try scenario.map { try Scenario.load(contentsOf: URL(fileURLWithPath: $0)) } ?? Scenario.demo()
        let simulator = try await SimulatorServer.start(scenario: scenario, port: simulatorPort)
        let flags = [
            "listen": listen, "data-dir": dataDirectory, "public-url": "http://\(listen)",
            "secret-key": "backfill-demo-secret-key (not for production)",
            "graph-url": simulator.graphBaseURL, "ms-login-url": simulator.microsoftLoginBaseURL,
            "gmail-url": simulator.gmailBaseURL, "google-oauth-url": simulator.googleOAuthBaseURL,
            "google-accounts-url": simulator.googleOAuthBaseURL,
            "graph-client-id": scenario.graphClientID, "graph-client-secret": "demo",
            "google-client-id": scenario.googleClientID, "google-client-secret": "demo",
            // Gmail pushes are verified as in production, against the simulated Pub/Sub's signing key.
            "google-certs-url": simulator.googleCertsURL, "gmail-push-audience": "http://\(listen)/webhooks/gmail",
            "gmail-push-service-account": SimulatorServer.pushServiceAccount,
        ]
        let settings: ServeSettings
        do {
            // Only these embedded defaults: a demo never picks up a production environment by accident.
            settings = try ServeSettings(flags: flags, environment: [:])
        } catch {
            throw ValidationError(error.message)
        }
        let listen = listen
        try await ServeCommand.run(settings) { app, logger in
            try await Self.connectMailboxes(scenario, simulator: simulator, app: app)
            logger.notice("Backfill demo is ready: open http://\(listen)/ in a browser. Press Ctrl-C to stop.")
            print("Backfill demo: open http://\(listen)/ — the simulator is at \(simulator.baseURL). Press Ctrl-C to stop.")
        }
        await simulator.stop()
    }

    /// Connects every scenario mailbox with tokens the simulator issues, as a host application would.
    /// Shared mailboxes borrow their owner's token.
    private static func connectMailboxes(_ scenario: Scenario, simulator: SimulatorServer, app: BackfillApp) async throws {
        let http = HTTPClient()
        do {
            try await connect(scenario, simulator: simulator, app: app, http: http)
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()
    }

    private static func connect(_ scenario: Scenario, simulator: SimulatorServer, app: BackfillApp, http: HTTPClient) async throws {
        var ids: [String: String] = [:]
        for mailbox in scenario.mailboxes.sorted(by: { ($0.kind == .shared ? 1 : 0) < ($1.kind == .shared ? 1 : 0) }) {
            let tokenOwner = mailbox.kind == .shared ? mailbox.owner ?? mailbox.address : mailbox.address
            let response = try await http.send(HTTPRequest(
                method: "POST", url: simulator.controlBaseURL + "/tokens", headers: ["Content-Type": "application/json"],
                body: try JSONSerialization.data(withJSONObject: ["mailbox": tokenOwner])
            ))
            guard response.status == 200,
                  let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any],
                  let access = object["accessToken"] as? String, let refresh = object["refreshToken"] as? String
            else { throw ValidationError("the simulator issued no tokens for a demo mailbox (HTTP \(response.status))") }
            let credentials = OAuthCredentials(accessToken: access, refreshToken: refresh, expiresAt: Date().addingTimeInterval(3000))
            let provider: ProviderKind = mailbox.provider == .graph ? .graph : .gmail
            let parent = mailbox.kind == .shared ? mailbox.owner.flatMap { ids[$0.lowercased()] } : nil
            let connected = try await app.directory.connect(
                provider: provider, address: mailbox.address, credentials: credentials, parentId: parent
            )
            ids[mailbox.address.lowercased()] = connected.connection.id
        }
    }
}
