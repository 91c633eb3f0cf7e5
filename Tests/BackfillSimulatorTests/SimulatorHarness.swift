import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

/// A simulator on a free loopback port and the project's HTTP client to talk to it.
struct SimulatorHarness {
    let server: SimulatorServer
    let client: HTTPClient

    static let graphAddress = "alex@contoso.example"
    static let sharedAddress = "support@contoso.example"
    static let gmailAddress = "jo@example.net"

    /// A fixed scenario: 3,000 Graph messages, a shared mailbox, 2,000 Gmail messages, fixed start time.
    static func scenario(knobs: SimulatorKnobs = SimulatorKnobs()) -> Scenario {
        Scenario(
            seed: 42,
            startTime: "2026-11-25T12:00:00Z",
            mailboxes: [
                MailboxSpec(provider: .graph, address: graphAddress, messageCount: 3000,
                            spread: TimeSpread(days: 365, recentDays: 90, recentShare: 0.4)),
                MailboxSpec(provider: .graph, address: sharedAddress, kind: .shared, owner: graphAddress,
                            messageCount: 300),
                MailboxSpec(provider: .gmail, address: gmailAddress, messageCount: 2000,
                            spread: TimeSpread(days: 365, recentDays: 90, recentShare: 0.4)),
            ],
            knobs: knobs
        )
    }

    /// Runs `body` against a fresh simulator, then stops it.
    static func with(knobs: SimulatorKnobs = SimulatorKnobs(),
                     _ body: (SimulatorHarness) async throws -> Void) async throws {
        let server = try await SimulatorServer.start(scenario: scenario(knobs: knobs))
        let client = HTTPClient()
        do {
            try await body(SimulatorHarness(server: server, client: client))
        } catch {
            await client.shutdown()
            await server.stop()
            throw error
        }
        await client.shutdown()
        await server.stop()
    }

    // MARK: Requests

    func send(_ url: String, token: String? = nil, headers: [(String, String)] = []) async throws -> HTTPResponse {
        try await send("GET", url, token: token, headers: headers, body: nil)
    }

    func send(_ method: String, _ url: String, token: String? = nil, headers: [(String, String)] = [],
              body: Data?) async throws -> HTTPResponse {
        var fields = HTTPHeaders(headers)
        if let token { fields.add("Authorization", "Bearer \(token)") }
        return try await client.send(HTTPRequest(method: method, url: url, headers: fields, body: body))
    }

    /// A control call; returns the JSON object of the answer (empty for 204).
    @discardableResult
    func control(_ method: String, _ path: String, _ json: [String: Any]? = nil) async throws -> [String: Any] {
        let body = try json.map { try JSONSerialization.data(withJSONObject: $0) }
        let response: HTTPResponse = try await send(method, server.controlBaseURL + path,
                                      headers: body == nil ? [] : [("Content-Type", "application/json")], body: body)
        #expect((200 ..< 300).contains(response.status), "control \(method) \(path) answered \(response.status)")
        guard !response.body.isEmpty else { return [:] }
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    func tokens(for mailbox: String) async throws -> (access: String, refresh: String) {
        let answer = try await control("POST", "/tokens", ["mailbox": mailbox])
        return (try #require(answer["accessToken"] as? String), try #require(answer["refreshToken"] as? String))
    }

    func expected(_ mailbox: String, start: String, end: String) async throws -> Set<String> {
        let answer = try await control("GET", "/mailboxes/\(mailbox)/expected?start=\(start)&end=\(end)")
        return Set(try #require(answer["ids"] as? [String]))
    }

    func stats(_ mailbox: String) async throws -> [String: Any] {
        try await control("GET", "/mailboxes/\(mailbox)/stats")
    }

    func json(_ response: HTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    /// Waits (up to 5 s) until `condition` holds, checking every 10 ms.
    func waitUntil(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("condition not met within 5 seconds")
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
