import BackfillCore
import BackfillHTTP
import Foundation

/// Hands out access tokens for connections, refreshing them through the identity provider before they
/// expire and after a 401. Credentials are read and written through the `ConnectionDirectory`; a rotated
/// refresh token (Microsoft rotates on every refresh) replaces the stored one. Concurrent refreshes of one
/// connection in this process share a single token request.
///
/// Credentials read from the directory are kept in memory for `memoryLifetime`, so a worker's slice reads them
/// once rather than per request; a refusal (401) reads them again, and finds a token another instance refreshed.
actor OAuthTokenSource {
    /// Tokens this close to expiry are refreshed before use.
    static let expiryMargin: TimeInterval = 60
    /// How long credentials read from the directory are used without reading them again (about a worker's
    /// slice), and the most kept at once (tokens of idle connections are not worth keeping).
    static let memoryLifetime: Duration = .seconds(30)
    static let memoryCapacity = 10_000

    private struct Remembered {
        var credentials: OAuthCredentials
        var until: ContinuousClock.Instant
    }

    private let client: OAuthClient
    private let directory: any ConnectionDirectory
    private let transport: ProviderTransport
    private let clock: any WallClock
    private var refreshes: [String: Task<String, any Error>] = [:]
    private var remembered: [String: Remembered] = [:]
    private let monotonic = ContinuousClock()

    init(client: OAuthClient, directory: any ConnectionDirectory, transport: ProviderTransport, clock: any WallClock) {
        self.client = client
        self.directory = directory
        self.transport = transport
        self.clock = clock
    }

    /// A usable access token of `owner` (the connection whose credentials are used).
    func accessToken(owner: String) async throws -> String {
        let credentials = try await rememberedCredentials(owner)
        if let expiresAt = credentials.expiresAt, expiresAt.timeIntervalSince(clock.now()) < Self.expiryMargin {
            return try await refresh(owner: owner)
        }
        return credentials.accessToken
    }

    /// A new access token after the provider refused `rejected`. When another request already replaced
    /// that token, the replacement is returned without asking the identity provider again.
    func tokenAfterRejection(of rejected: String, owner: String) async throws -> String {
        let credentials = try await storedCredentials(owner)
        if credentials.accessToken != rejected {
            return credentials.accessToken
        }
        return try await refresh(owner: owner)
    }

    private func refresh(owner: String) async throws -> String {
        if let running = refreshes[owner] {
            return try await running.value
        }
        // Unstructured so that callers waiting on the same connection share one token request; the task
        // is awaited by every caller and removed when done.
        let task = Task { try await self.requestNewToken(owner: owner) }
        refreshes[owner] = task
        defer { refreshes[owner] = nil }
        return try await task.value
    }

    private func requestNewToken(owner: String) async throws -> String {
        let credentials = try await storedCredentials(owner)
        var form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", credentials.refreshToken),
            ("client_id", client.clientId),
            ("client_secret", client.clientSecret),
        ]
        if let scope = client.scope {
            form.append(("scope", scope))
        }
        let route = "\(client.issuer) token refresh"
        let request = HTTPRequest(
            method: "POST", url: client.tokenURL,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: Data(FormEncoding.encode(form).utf8)
        )
        let response = try await transport.send(request, route: route)
        guard (200..<300).contains(response.status) else {
            let failure = failure(for: response, route: route)
            if case .tokenExpired = failure, let rotated = try await rotatedElsewhere(from: credentials.refreshToken, owner: owner) {
                return rotated
            }
            throw failure
        }
        guard let grant = try? JSONDecoder().decode(OAuthTokenGrant.self, from: response.body), !grant.access_token.isEmpty else {
            throw ProviderFailure.invalidResponse("\(route): malformed token response")
        }
        let renewed = OAuthCredentials(
            accessToken: grant.access_token,
            refreshToken: grant.refresh_token ?? credentials.refreshToken,
            expiresAt: grant.expires_in.map { clock.now().addingTimeInterval(TimeInterval($0)) }
        )
        // Kept here first: this process goes on with the new tokens even while they cannot be saved yet.
        remember(renewed, for: owner)
        try await save(renewed, owner: owner)
        return renewed.accessToken
    }

    /// Waits between tries to save renewed credentials (about 16 s in all, then the last try's error).
    static let saveWaits: [Duration] = [.milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8)]

    /// A rotated refresh token is the only one that works from now on (the provider may retire the old one at once):
    /// lost, the user must reconnect. So its save is tried again through a Redis outage (a restart takes a second or
    /// two) before the refresh fails.
    private func save(_ renewed: OAuthCredentials, owner: String) async throws {
        for wait in Self.saveWaits {
            do {
                return try await directory.updateCredentials(renewed, for: owner)
            } catch {
                try await Task.sleep(for: wait)
            }
        }
        try await directory.updateCredentials(renewed, for: owner)
    }

    /// Waits after a refused refresh before looking for a rotation by another instance (whose write may
    /// land just after our refusal): the looks, from the refusal on.
    static let rotationLooks: [Duration] = [.zero, .milliseconds(250), .milliseconds(750)]

    /// The access token another instance got by refreshing the same refresh token first: Microsoft rotates
    /// refresh tokens, so the later of two simultaneous refreshes is refused (`invalid_grant`) although
    /// nothing was revoked. Nil when the stored refresh token is still the one refused: then it really was.
    private func rotatedElsewhere(from refused: String, owner: String) async throws -> String? {
        for wait in Self.rotationLooks {
            if wait > .zero { try await Task.sleep(for: wait) }
            let stored = try await storedCredentials(owner)
            if stored.refreshToken != refused { return stored.accessToken }
        }
        return nil
    }

    /// The credentials as stored now (read from the directory, and remembered).
    private func storedCredentials(_ owner: String) async throws -> OAuthCredentials {
        guard let credentials = try await directory.credentials(for: owner) else {
            remembered[owner] = nil
            throw ProviderFailure.tokenExpired("no stored credentials for the connection")
        }
        remember(credentials, for: owner)
        return credentials
    }

    /// The credentials read lately, or as stored now.
    private func rememberedCredentials(_ owner: String) async throws -> OAuthCredentials {
        if let entry = remembered[owner], entry.until > monotonic.now { return entry.credentials }
        return try await storedCredentials(owner)
    }

    private func remember(_ credentials: OAuthCredentials, for owner: String) {
        let now = monotonic.now
        if remembered.count >= Self.memoryCapacity {
            remembered = remembered.filter { $0.value.until > now }
            if remembered.count >= Self.memoryCapacity { remembered.removeAll(keepingCapacity: true) }
        }
        remembered[owner] = Remembered(credentials: credentials, until: now + Self.memoryLifetime)
    }

    private func failure(for response: HTTPResponse, route: String) -> ProviderFailure {
        OAuthTokenError.failure(for: response, route: route, now: clock.now()) { code, detail in
            switch code {
            case "invalid_grant", "interaction_required": .tokenExpired("\(client.issuer) refused the refresh token: \(detail)")
            case "invalid_client", "unauthorized_client": .permissionLost("\(client.issuer) refused the client registration: \(detail)")
            default: nil
            }
        }
    }
}
