import BackfillCore
import BackfillHTTP
import Foundation

/// Sends one provider API request of a mailbox, start to end: a place in this process (`MailboxAdmissions`:
/// concurrency, quota, the local gate), the shared gate and a slot (`SharedAdmission.admit`, one round trip),
/// the bearer token, the HTTP request, and the shared release (one round trip, closing the gate after a
/// throttle). What to do with each answer — send again after a short Retry-After or a server error, refresh the
/// token after a 401, park the backfill — is `MailboxAdmission`'s decision.
struct ProviderRequestSender: Sendable {
    let transport: ProviderTransport
    let shared: any SharedAdmission
    let admissions: MailboxAdmissions
    /// The units a mailbox may have in flight across every instance (`SharedAdmission`): Graph's requests,
    /// Gmail's calls.
    let inFlightLimit: Int
    let tokens: OAuthTokenSource
    /// The app's own token (client credentials) for app-only connections; nil when not configured.
    let appTokens: AppTokenSource?
    let metrics: ProviderRequestMetrics

    /// Whose token authorizes a request.
    enum TokenOwner: Sendable, Equatable {
        /// The connection's stored OAuth tokens (for a shared mailbox, its parent's).
        case connection(String)
        /// The service's application registration (Microsoft client credentials).
        case app
    }

    /// - Parameters:
    ///   - mailbox: the connection whose admission (gate, slots, quota) bounds the request.
    ///   - owner: whose token authorizes it.
    ///   - cost: its quota units.
    ///   - failure: the classified failure of a response; nil when the response is acceptable.
    func send(
        _ request: ProviderRequest, mailbox: String, as owner: TokenOwner, cost: Int = 1,
        failure: (HTTPResponse) -> ProviderFailure?
    ) async throws -> HTTPResponse {
        try await send(request, mailbox: mailbox, as: owner, cost: cost, calls: 1) { response in
            if response.status == 401 { return .refusedToken }
            return failure(response).map(Judgement.failed) ?? .accepted
        }
    }

    /// What a response means for the request that got it.
    enum Judgement {
        case accepted
        /// Accepted, but some of the calls it carried were throttled (a batch): the mailbox's gate closes, the
        /// response stands and its caller sends those calls again.
        case acceptedThrottledInside(retryAfter: Duration?)
        /// The access token was refused (a 401; for a batch, a call's 401).
        case refusedToken
        case failed(ProviderFailure)
    }

    /// `send` with the response judged by `judge`; `calls` is how many the request carries (a batch's), each of
    /// which counts against the mailbox's in-flight limit.
    func send(
        _ request: ProviderRequest, mailbox: String, as owner: TokenOwner, cost: Int = 1, calls: Int,
        judge: (HTTPResponse) -> Judgement
    ) async throws -> HTTPResponse {
        var token = try await accessToken(owner)
        var attempts = MailboxAdmission.Attempts()
        var units = cost
        while true {
            let sendAt = try await admissions.enter(mailbox, cost: units)
            let admitted: SharedAdmit
            let permit = SlotPermit(units: calls)
            do {
                try await ContinuousClock().sleep(until: sendAt)
                admitted = try await shared.admitWaitingForSlot(mailbox: mailbox, permit: permit, limit: inFlightLimit)
            } catch {
                await admissions.abandon(mailbox)
                throw error
            }
            if case .gateClosed(let remaining) = admitted {
                // The place is given back; a short gate is waited out, a long one thrown as `throttled`.
                try await admissions.sharedGateClosed(mailbox, for: remaining)
                units = 0  // the units taken stay spent: the request goes once the gate opens
                continue
            }
            let response: HTTPResponse
            let authorized = request.httpRequest(bearer: token)
            do {
                response = try await Self.toItsEnd { [shared, transport] in
                    try await shared.renewing(mailbox: mailbox, permit: permit) {
                        try await transport.send(authorized, route: request.route)
                    }
                }
            } catch {
                metrics.record(thrown: error)
                await admissions.abandon(mailbox)
                try? await shared.release(mailbox: mailbox, permit: permit, closingGateFor: nil)
                throw error
            }
            let judgement = judge(response)
            var failure: ProviderFailure?
            let answer: MailboxAdmission.Answer
            switch judgement {
            case .accepted: answer = .success
            case .acceptedThrottledInside(let retryAfter): answer = .partlyThrottled(retryAfter: retryAfter)
            case .refusedToken: answer = .unauthorized
            case .failed(let classified):
                failure = classified
                answer = Self.answer(status: response.status, failure: classified)
            }
            let (verdict, closeGate) = await admissions.answered(mailbox, answer, attempts: &attempts)
            if let failure { metrics.record(failure) } else if answer != .unauthorized { metrics.recordSuccess() }
            // A throttle closes the shared gate before anything else of the mailbox is admitted; only a failed
            // close is worth failing for (the slot itself expires by itself).
            if closeGate != nil {
                try await shared.release(mailbox: mailbox, permit: permit, closingGateFor: closeGate)
            } else {
                try? await shared.release(mailbox: mailbox, permit: permit, closingGateFor: nil)
            }
            switch verdict {
            case .done:
                if let failure { throw failure }
                return response
            case .resend(let at):
                try await ContinuousClock().sleep(until: at)
                units = cost
            case .refreshTokenAndResend:
                token = try await tokenAfterRejection(of: token, owner)
                units = cost
            case .tokenRefused:
                if owner == .app {
                    // No user can sign in again: the app's grant itself is refused (an administrator must act).
                    throw ProviderFailure.permissionLost("\(request.route): a fresh app token was refused")
                }
                throw ProviderFailure.tokenExpired("\(request.route): a freshly refreshed token was refused")
            case .park(let wait):
                throw ProviderFailure.throttled(retryAfter: wait)
            }
        }
    }

    /// How admission sees a failed response (or a batch's failed call) that did not refuse the token.
    static func answer(status: Int, failure: ProviderFailure?) -> MailboxAdmission.Answer {
        switch failure {
        case nil: return .success
        case .throttled(let retryAfter): return .throttled(retryAfter: retryAfter)
        case .transient where status >= 500: return .serverError
        default: return .failed
        }
    }

    /// Runs a request that is on the wire to its end even when the caller is cancelled (a page cut short, a
    /// sibling's failure): it cannot be recalled, and its answer, a throttle above all, must be heard and close
    /// the gate. Its own timeout bounds it.
    private static func toItsEnd<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        // Unstructured on purpose: a child task would be cancelled with its parent. Awaited at once, so it
        // never outlives the request it runs.
        try await Task { try await body() }.value
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
