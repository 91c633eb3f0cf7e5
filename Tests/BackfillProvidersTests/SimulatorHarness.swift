import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import BackfillSimulator
import Foundation
import Testing

/// A simulator over real loopback HTTP, an in-memory directory, and the providers pointed at both.
/// Tests talk to the simulator's `/_sim` control API for tokens, expected sets, faults and revocations.
struct SimulatorHarness {
    static let graphUser = "ada@contoso.example"
    static let graphShared = "support@contoso.example"
    static let gmailUser = "jo@example.net"

    let server: SimulatorServer
    let http: HTTPClient
    let directory: InMemoryConnectionDirectory
    let endpoints: ProviderEndpoints
    /// The last 180 days: the generated history puts about a third of the mail in the recent 90 days.
    let window: DateWindow

    static func start(messageCount: Int = 150) async throws -> SimulatorHarness {
        let scenario = Scenario(
            seed: 42,
            mailboxes: [
                MailboxSpec(provider: .graph, address: graphUser, messageCount: messageCount),
                MailboxSpec(provider: .graph, address: graphShared, kind: .shared, owner: graphUser, messageCount: 40),
                MailboxSpec(provider: .gmail, address: gmailUser, messageCount: messageCount),
            ]
        )
        let server = try await SimulatorServer.start(scenario: scenario)
        let endpoints = ProviderEndpoints(
            graphBaseURL: server.graphBaseURL, msLoginBaseURL: server.microsoftLoginBaseURL, msTenant: scenario.tenantID,
            msClientId: scenario.graphClientID, msClientSecret: "secret", gmailBaseURL: server.gmailBaseURL,
            googleOAuthBaseURL: server.googleOAuthBaseURL, googleClientId: scenario.googleClientID,
            googleClientSecret: "secret"
        )
        let http = HTTPClient()
        let harness = SimulatorHarness(
            server: server, http: http, directory: InMemoryConnectionDirectory(), endpoints: endpoints,
            window: try await Self.simulatedWindow(server: server, http: http)
        )
        try await harness.connect("graph-1", .graph, graphUser)
        try await harness.connect("gmail-1", .gmail, gmailUser)
        await harness.directory.save(
            Connection(id: "shared-1", provider: .graph, address: graphShared, parentId: "graph-1", createdAt: Date())
        )
        return harness
    }

    /// Runs `body` against a fresh simulator and stops it afterwards, whether or not `body` threw.
    static func run(messageCount: Int = 150, _ body: (SimulatorHarness) async throws -> Void) async throws {
        let harness = try await start(messageCount: messageCount)
        do {
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    func stop() async {
        await http.shutdown()
        await server.stop()
    }

    var graph: GraphProvider {
        GraphProvider(endpoints: endpoints, directory: directory, http: http, pageSize: 25)
    }

    var gmail: GmailProvider {
        GmailProvider(endpoints: endpoints, directory: directory, http: http, listPageSize: 40)
    }

    func job(_ connectionId: String) -> BackfillJob {
        BackfillJob(connectionId: connectionId, backfillId: "b-\(connectionId)", window: window)
    }

    /// prepare, then pages until the cursor runs out.
    func backfill(_ provider: any MailProvider, _ connectionId: String) async throws -> (estimate: Int, messages: [StoredMessage]) {
        let job = job(connectionId)
        let preparation = try await provider.prepare(job)
        var cursor: String?
        var messages: [StoredMessage] = []
        repeat {
            let page = try await provider.fetchPage(job, cursor: cursor)
            messages += page.messages
            cursor = page.nextCursor
        } while cursor != nil
        try await provider.finish(job)
        return (preparation.estimatedTotal, messages)
    }

    // MARK: Control API

    /// Ids the simulator says a backfill of `window` must store.
    func expectedIds(_ address: String) async throws -> Set<String> {
        let query = "start=\(Self.iso(window.start))&end=\(Self.iso(window.end))"
        let object = try await control("GET", "mailboxes/\(address)/expected?\(query)")
        return Set(try #require(object["ids"] as? [String]))
    }

    func fault(
        _ address: String, route: String, status: Int, retryAfter: Double? = nil, body: String? = nil, count: Int = 1
    ) async throws {
        var fault: [String: Any] = ["mailbox": address, "route": route, "status": status, "count": count]
        fault["retryAfter"] = retryAfter
        fault["body"] = body
        _ = try await control("POST", "faults", body: fault)
    }

    func control(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        let response = try await http.send(
            HTTPRequest(
                method: method, url: "\(server.controlBaseURL)/\(path)", headers: ["Content-Type": "application/json"],
                body: try body.map { try JSONSerialization.data(withJSONObject: $0) }
            )
        )
        try #require((200..<300).contains(response.status), "control \(method) \(path) answered \(response.status)")
        guard !response.body.isEmpty else { return [:] }
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    /// Expires the stored access token so the next request must refresh it.
    func expireAccessToken(_ connectionId: String) async throws {
        var credentials = try #require(await directory.credentials(for: connectionId))
        credentials.expiresAt = Date(timeIntervalSince1970: 0)
        await directory.updateCredentials(credentials, for: connectionId)
    }

    private func connect(_ id: String, _ provider: ProviderKind, _ address: String) async throws {
        let tokens = try await control("POST", "tokens", body: ["mailbox": address])
        let credentials = OAuthCredentials(
            accessToken: try #require(tokens["accessToken"] as? String),
            refreshToken: try #require(tokens["refreshToken"] as? String),
            expiresAt: Date().addingTimeInterval(3000)
        )
        await directory.save(Connection(id: id, provider: provider, address: address, createdAt: Date()), credentials: credentials)
    }

    /// The window ends at the simulator's own "now".
    private static func simulatedWindow(server: SimulatorServer, http: HTTPClient) async throws -> DateWindow {
        let response = try await http.send(HTTPRequest(url: "\(server.controlBaseURL)/clock"))
        let object = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        let now = try #require((object["now"] as? String).flatMap(GraphDate.parse))
        return DateWindow(start: now.addingTimeInterval(-180 * 86_400), end: now)
    }

    private static func iso(_ date: Date) -> String {
        FormEncoding.escape(date.formatted(.iso8601))
    }
}
