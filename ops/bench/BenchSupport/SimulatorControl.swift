import BackfillCore
import BackfillHTTP
import BackfillScheduler
import Foundation

/// The simulator's control API as the benches use it: knobs, tokens, its clock and its request journal.
public struct SimulatorControl: Sendable {
    let http: HTTPClient
    let baseURL: String

    /// - Parameter baseURL: `SimulatorServer.controlBaseURL`.
    public init(http: HTTPClient, baseURL: String) {
        self.http = http
        self.baseURL = baseURL
    }

    /// Sends a control request with a JSON body and returns the JSON object it answered (empty for no body).
    @discardableResult
    public func call(_ method: String, _ path: String, body: sending [String: Any]? = nil) async throws -> sending [String: Any] {
        let response = try await http.send(HTTPRequest(
            method: method, url: "\(baseURL)/\(path)", headers: ["Content-Type": "application/json"],
            body: try body.map { try JSONSerialization.data(withJSONObject: $0) }
        ))
        guard (200..<300).contains(response.status) else { throw BenchError("control \(method) \(path): \(response.status)") }
        guard !response.body.isEmpty else { return [:] }
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
    }

    /// Connects `address` in `directory` with fresh tokens the simulator issued; returns the connection id.
    public func connect(_ provider: ProviderKind, _ address: String, in directory: RedisConnectionDirectory) async throws -> String {
        let tokens = try await call("POST", "tokens", body: ["mailbox": address])
        let credentials = OAuthCredentials(
            accessToken: tokens["accessToken"] as? String ?? "", refreshToken: tokens["refreshToken"] as? String ?? "",
            expiresAt: Date().addingTimeInterval(3000)
        )
        return try await directory.connect(provider: provider, address: address, credentials: credentials, parentId: nil).connection.id
    }

    /// The simulator's clock (its mailboxes' dates are relative to it).
    public func now() async throws -> Date {
        let text = try await call("GET", "clock")["now"] as? String ?? ""
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? Date()
    }

    /// A mailbox's requests in the journal: Gmail quota units spent (refused requests are not charged),
    /// requests refused by a throttle, and all requests.
    public func requests(of address: String) async throws -> (gmailUnits: Int, throttled: Int, total: Int) {
        let entries = try await call("GET", "journal?mailbox=\(address)")["value"] as? [[String: Any]] ?? []
        var units = 0
        var throttled = 0
        for entry in entries {
            let status = entry["status"] as? Int ?? 0
            if status == 429 || status == 403 { throttled += 1; continue }
            let route = entry["route"] as? String ?? ""
            // Gmail's units per method (provider notes B9): profile and labels 1, history 2, watch 100, the rest 5.
            units += route.hasSuffix("profile") || route.contains("labels") ? 1 : route.contains("history") ? 2
                : route.hasSuffix("watch") ? 100 : 5
        }
        return (units, throttled, entries.count)
    }
}
