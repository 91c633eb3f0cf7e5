import BackfillCore
import BackfillHTTP
import Foundation

/// The app's own Microsoft Graph token (client credentials grant), for connections with `auth == .app`.
/// One token per tenant, kept in memory only (nothing is stored at rest, nothing logged) and requested
/// again shortly before it expires or after Graph refused it; concurrent requests share one grant.
///
/// A refused grant (`invalid_client`: wrong or expired secret; `unauthorized_client`: the app is gone or
/// disabled in the tenant; `invalid_request`/`invalid_scope`: unknown tenant, bad scope) is `permissionLost`:
/// there is no user to sign in again, an administrator must fix the registration or its consent.
actor AppTokenSource {
    /// Tokens this close to expiry are replaced before use.
    static let expiryMargin: TimeInterval = 300
    /// Assumed when the grant omits `expires_in` (Microsoft's app tokens last about an hour).
    static let defaultLifetime: TimeInterval = 3599

    private struct Cached {
        var token: String
        var expiresAt: Date
    }

    private let app: ProviderEndpoints.MicrosoftApp
    private let tokenURL: String
    private let transport: ProviderTransport
    private let clock: any WallClock
    private var cached: [String: Cached] = [:]
    private var pending: [String: Task<Cached, any Error>] = [:]

    init(app: ProviderEndpoints.MicrosoftApp, tokenURL: String, transport: ProviderTransport, clock: any WallClock) {
        self.app = app
        self.tokenURL = tokenURL
        self.transport = transport
        self.clock = clock
    }

    /// A usable app token for the tenant.
    func accessToken() async throws -> String {
        if let current = cached[app.tenant], current.expiresAt.timeIntervalSince(clock.now()) >= Self.expiryMargin {
            return current.token
        }
        return try await renew()
    }

    /// A new token after Graph refused `rejected` (401); one another request already replaced is returned as is.
    func tokenAfterRejection(of rejected: String) async throws -> String {
        if let current = cached[app.tenant], current.token != rejected {
            return current.token
        }
        cached[app.tenant] = nil
        return try await renew()
    }

    private func renew() async throws -> String {
        let tenant = app.tenant
        if let running = pending[tenant] {
            return try await running.value.token
        }
        // Unstructured so that callers waiting on the same tenant share one grant; removed when done.
        let task = Task { try await self.requestToken() }
        pending[tenant] = task
        defer { pending[tenant] = nil }
        let fresh = try await task.value
        cached[tenant] = fresh
        return fresh.token
    }

    private func requestToken() async throws -> Cached {
        let route = "microsoft app token"
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", app.clientId),
            ("client_secret", app.clientSecret),
            ("scope", app.scope),
        ]
        let request = HTTPRequest(
            method: "POST", url: tokenURL,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: Data(FormEncoding.encode(form).utf8)
        )
        let response = try await transport.send(request, route: route)
        guard (200..<300).contains(response.status) else {
            throw failure(for: response, route: route)
        }
        guard let grant = try? JSONDecoder().decode(OAuthTokenGrant.self, from: response.body), !grant.access_token.isEmpty else {
            throw ProviderFailure.invalidResponse("\(route): malformed token response")
        }
        let lifetime = grant.expires_in.map(TimeInterval.init) ?? Self.defaultLifetime
        return Cached(token: grant.access_token, expiresAt: clock.now().addingTimeInterval(lifetime))
    }

    private func failure(for response: HTTPResponse, route: String) -> ProviderFailure {
        OAuthTokenError.failure(for: response, route: route, now: clock.now()) { code, detail in
            switch code {
            case "invalid_client", "unauthorized_client", "invalid_request", "invalid_scope", "invalid_grant":
                .permissionLost(
                    "microsoft refused the app's client credentials for tenant \(app.tenant): \(detail); an administrator must fix the app registration, its secret or its admin consent"
                )
            default: nil
            }
        }
    }
}
