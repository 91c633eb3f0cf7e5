import BackfillCore
import BackfillHTTP

/// Sends provider API requests with the owner's bearer token. On a 401 the token is refreshed once and
/// the request sent again; a second 401 means the grant no longer works.
struct AuthorizedTransport: Sendable {
    let transport: ProviderTransport
    let tokens: OAuthTokenSource

    /// - Parameters:
    ///   - mailbox: the connection whose request slots bound the request.
    ///   - owner: the connection whose credentials authorize it (a shared mailbox's parent).
    ///   - gate: waits until the mailbox may send; it runs inside the slot right before each send (the resend
    ///     after a refresh too), so a throttle answered to another request while this one waited for its slot,
    ///     its token or a refresh holds it as well.
    func send(
        _ request: ProviderRequest, mailbox: String, owner: String, gate: @Sendable @escaping () async throws -> Void
    ) async throws -> HTTPResponse {
        let token = try await tokens.accessToken(owner: owner)
        let response = try await transport.send(request.httpRequest(bearer: token), mailbox: mailbox, route: request.route, beforeSend: gate)
        guard response.status == 401 else { return response }
        let renewed = try await tokens.tokenAfterRejection(of: token, owner: owner)
        let retried = try await transport.send(request.httpRequest(bearer: renewed), mailbox: mailbox, route: request.route, beforeSend: gate)
        guard retried.status != 401 else {
            throw ProviderFailure.tokenExpired("\(request.route): a freshly refreshed token was refused")
        }
        return retried
    }
}
