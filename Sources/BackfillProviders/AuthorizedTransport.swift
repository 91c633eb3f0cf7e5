import BackfillCore
import BackfillHTTP

/// Sends provider API requests with the owner's bearer token. On a 401 the token is refreshed once and
/// the request sent again (after `beforeResend`: the refresh takes a while, and a throttle answered to
/// another request meanwhile must hold this one too); a second 401 means the grant no longer works.
struct AuthorizedTransport: Sendable {
    let transport: ProviderTransport
    let tokens: OAuthTokenSource

    /// - Parameters:
    ///   - mailbox: the connection whose request slots bound the request.
    ///   - owner: the connection whose credentials authorize it (a shared mailbox's parent).
    ///   - beforeResend: waits until the mailbox may send again.
    func send(
        _ request: ProviderRequest, mailbox: String, owner: String, beforeResend: @Sendable () async throws -> Void
    ) async throws -> HTTPResponse {
        let token = try await tokens.accessToken(owner: owner)
        let response = try await transport.send(request.httpRequest(bearer: token), mailbox: mailbox, route: request.route)
        guard response.status == 401 else { return response }
        let renewed = try await tokens.tokenAfterRejection(of: token, owner: owner)
        try await beforeResend()
        let retried = try await transport.send(request.httpRequest(bearer: renewed), mailbox: mailbox, route: request.route)
        guard retried.status != 401 else {
            throw ProviderFailure.tokenExpired("\(request.route): a freshly refreshed token was refused")
        }
        return retried
    }
}
