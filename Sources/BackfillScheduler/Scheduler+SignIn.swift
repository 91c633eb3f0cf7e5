import BackfillRedis
import Foundation

/// Connect flows in progress (BackfillServer's `OAuthConnect`): a state kept for a while, taken back once.
extension Scheduler {
    /// Keeps `record` under `state` for `lifetime`, unless `limit` flows are in progress already: then
    /// nothing is kept and the answer says how long until the oldest one expires.
    public func beginSignIn(state: String, record: String, lifetime: Duration, limit: Int) async throws -> SignInAdmission {
        let reply = try await redis.run(
            SchedulerScripts.beginSignIn, keys: [keys.oauthPending, keys.oauthState(state)],
            arguments: [state, record, String(max(1, lifetime.milliseconds)), String(limit)]
        )
        guard let wait = reply.int else { throw SchedulerError.unexpectedReply(script: "beginSignIn", reply.strings) }
        return wait == 0 ? .kept : .full(retryAfter: .milliseconds(wait))
    }

    /// The record kept under `state`, removed so it cannot be used again; nil when unknown or expired.
    public func takeSignIn(state: String) async throws -> String? {
        try await redis.run(SchedulerScripts.takeSignIn, keys: [keys.oauthPending, keys.oauthState(state)], arguments: [state]).string
    }

    public enum SignInAdmission: Sendable, Equatable {
        case kept
        /// Too many flows in progress; the oldest expires after this.
        case full(retryAfter: Duration)
    }
}
