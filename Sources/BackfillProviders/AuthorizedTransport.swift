import BackfillCore
import BackfillHTTP

/// Sends provider API requests with the owner's bearer token. On a 401 the token is refreshed once and
/// the request sent again; a second 401 means the grant no longer works.
struct AuthorizedTransport: Sendable {
    let transport: ProviderTransport
    let tokens: OAuthTokenSource
    /// The app's own token (client credentials) for app-only connections; nil when not configured.
    var appTokens: AppTokenSource? = nil

    /// Whose token authorizes a request.
    enum TokenOwner: Sendable, Equatable {
        /// The connection's stored OAuth tokens (for a shared mailbox, its parent's).
        case connection(String)
        /// The service's application registration (Microsoft client credentials).
        case app
    }

    /// - Parameters:
    ///   - mailbox: the connection whose request slots bound the request.
    ///   - owner: the connection whose credentials authorize it (a shared mailbox's parent).
    ///   - gate: waits until the mailbox may send; it runs inside the slot right before each send (the resend
    ///     after a refresh too), so a throttle answered to another request while this one waited for its slot,
    ///     its token or a refresh holds it as well.
    func send(
        _ request: ProviderRequest, mailbox: String, owner: String, gate: @Sendable @escaping () async throws -> Void
    ) async throws -> HTTPResponse {
        try await send(request, mailbox: mailbox, as: .connection(owner), gate: gate)
    }

    func send(
        _ request: ProviderRequest, mailbox: String, as owner: TokenOwner, gate: @Sendable @escaping () async throws -> Void
    ) async throws -> HTTPResponse {
        let token = try await accessToken(owner)
        let response = try await transport.send(request.httpRequest(bearer: token), mailbox: mailbox, route: request.route, beforeSend: gate)
        guard response.status == 401 else { return response }
        let renewed = try await tokenAfterRejection(of: token, owner)
        let retried = try await transport.send(request.httpRequest(bearer: renewed), mailbox: mailbox, route: request.route, beforeSend: gate)
        guard retried.status != 401 else {
            if owner == .app {
                // No user can sign in again: the app's grant itself is refused (an administrator must act).
                throw ProviderFailure.permissionLost("\(request.route): a fresh app token was refused")
            }
            throw ProviderFailure.tokenExpired("\(request.route): a freshly refreshed token was refused")
        }
        return retried
    }

    private func accessToken(_ owner: TokenOwner) async throws -> String {
        switch owner {
        case .connection(let id): try await tokens.accessToken(owner: id)
        case .app: try await requireAppTokens().accessToken()
        }
    }

    private func tokenAfterRejection(of rejected: String, _ owner: TokenOwner) async throws -> String {
        switch owner {
        case .connection(let id): try await tokens.tokenAfterRejection(of: rejected, owner: id)
        case .app: try await requireAppTokens().tokenAfterRejection(of: rejected)
        }
    }

    private func requireAppTokens() throws -> AppTokenSource {
        guard let appTokens else {
            throw ProviderFailure.permissionLost(
                "app-only Microsoft 365 access is not configured on this instance (--graph-app-tenant, BACKFILL_GRAPH_APP_TENANT)"
            )
        }
        return appTokens
    }
}
