import Foundation

/// Every limit and fault of the simulator. Defaults match the real providers (see docs/providers.md: Graph and Gmail throttling),
/// with no latency and no random faults; a scenario or `PATCH /_sim/knobs` changes any subset.
public struct SimulatorKnobs: Codable, Sendable, Equatable {
    /// How a Graph `Retry-After` value is written.
    public enum RetryAfterStyle: String, Codable, Sendable { case integer, fractional, httpDate }
    /// The OIDC token on Gmail pushes: a valid one (as Pub/Sub with authentication sends), none, one signed
    /// by a key Google never published, or an expired one.
    public enum GmailPushToken: String, Codable, Sendable { case oidc, absent, foreignKey, expired }

    // MARK: Latency
    /// Added to every provider request (not control calls), plus up to `latencyJitterMs`.
    public var latencyMs: Int = 0
    public var latencyJitterMs: Int = 0

    // MARK: Graph limits
    public var graphConcurrentRequests: Int = 4
    public var graphWindowRequests: Int = 10_000
    public var graphWindowSeconds: Double = 600
    /// Seconds a throttled Graph client is told to wait.
    public var graphRetryAfterSeconds: Double = 10
    public var graphRetryAfterStyle: RetryAfterStyle = .integer
    public var graphDefaultPageSize: Int = 10
    /// The most messages the service puts in one page, whatever `$top` or `Prefer` ask for.
    public var graphMaxPageSize: Int = 1000
    /// One in this many walk positions of a folder holds a non-message item (counts in totalItemCount and
    /// in `$skip`, never returned), so nextLink `$skip` values do not equal the page size. 0: none.
    public var graphNonMessageEvery: Int = 19
    /// A filtered delta round ends after this many messages.
    public var graphDeltaFilteredCap: Int = 5000
    /// Delta sync-state generations kept per round; older links give 410 SyncStateNotFound.
    public var graphDeltaGenerationsKept: Int = 3
    public var graphSubscriptionMaxMinutes: Int = 10_080
    /// Time compression (ops/soak): when above 0, a subscription made or renewed is granted at most this many
    /// seconds, whatever it asked for (within `graphSubscriptionMaxMinutes`), and the answer says so. Real
    /// Graph grants what is asked or refuses it; 0 keeps that.
    public var graphSubscriptionLifetimeSeconds: Double = 0
    public var requireHTTPSNotificationURL: Bool = false

    // MARK: Gmail limits
    public var gmailUserUnitsPerMinute: Int = 15_000
    /// The status of a user quota refusal: 403 `userRateLimitExceeded` or 429 `RESOURCE_EXHAUSTED`.
    public var gmailQuotaStatus: Int = 403
    public var gmailConcurrentRequests: Int = 10
    public var gmailMaxResults: Int = 500
    public var gmailBatchMaxParts: Int = 100
    public var gmailHistoryRetentionSeconds: Double = 7 * 86_400
    /// How long a `users.watch` lasts (Google: 7 days); an expired watch pushes nothing until made again.
    public var gmailWatchLifetimeSeconds: Double = 7 * 86_400
    /// Sent as a JSON number (as real pushes do) or as a string.
    public var gmailPushHistoryIdAsString: Bool = false
    /// The audience of the pushes' OIDC token; empty: the push endpoint URL (Pub/Sub's default).
    public var gmailPushAudience: String = ""
    public var gmailPushToken: GmailPushToken = .oidc
    /// How a Gmail `Retry-After` (on injected faults) is written; Gmail documents none, so whole seconds.
    public var gmailRetryAfterStyle: RetryAfterStyle = .integer

    // MARK: Tokens
    public var accessTokenLifetimeSeconds: Int = 3599
    /// How long a Microsoft refresh token still works after a refresh rotated it away. Microsoft's old token
    /// "may still work for a while"; 0 refuses it at once (`invalid_grant`), the strictest reading.
    public var refreshTokenGraceSeconds: Double = 0

    // MARK: Random faults (chaos), seeded by `faultSeed`
    /// Percent of provider requests answered 429 with a Retry-After of `faultRetryAfterSeconds`.
    public var throttlePercent: Double = 0
    public var faultRetryAfterSeconds: Double = 2
    /// Percent answered 503 (Graph) or 500/503 (Gmail); half of them carry a Retry-After.
    public var serverErrorPercent: Double = 0
    /// Percent of 200 bodies cut in half (truncated) or replaced by broken JSON (malformed).
    public var truncatedPercent: Double = 0
    public var malformedPercent: Double = 0
    /// Percent of change notifications (Graph notification posts, Gmail pushes) never sent, and percent sent
    /// twice, as providers lose and repeat them. Validations and lifecycle events are always sent once.
    public var notificationDropPercent: Double = 0
    public var notificationDuplicatePercent: Double = 0
    public var faultSeed: UInt64 = 7

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var k = SimulatorKnobs()
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let decoded = try c.decodeIfPresent(T.self, forKey: key) { value = decoded }
        }
        try read(.latencyMs, &k.latencyMs)
        try read(.latencyJitterMs, &k.latencyJitterMs)
        try read(.graphConcurrentRequests, &k.graphConcurrentRequests)
        try read(.graphWindowRequests, &k.graphWindowRequests)
        try read(.graphWindowSeconds, &k.graphWindowSeconds)
        try read(.graphRetryAfterSeconds, &k.graphRetryAfterSeconds)
        try read(.graphRetryAfterStyle, &k.graphRetryAfterStyle)
        try read(.graphDefaultPageSize, &k.graphDefaultPageSize)
        try read(.graphMaxPageSize, &k.graphMaxPageSize)
        try read(.graphNonMessageEvery, &k.graphNonMessageEvery)
        try read(.graphDeltaFilteredCap, &k.graphDeltaFilteredCap)
        try read(.graphDeltaGenerationsKept, &k.graphDeltaGenerationsKept)
        try read(.graphSubscriptionMaxMinutes, &k.graphSubscriptionMaxMinutes)
        try read(.graphSubscriptionLifetimeSeconds, &k.graphSubscriptionLifetimeSeconds)
        try read(.requireHTTPSNotificationURL, &k.requireHTTPSNotificationURL)
        try read(.gmailUserUnitsPerMinute, &k.gmailUserUnitsPerMinute)
        try read(.gmailQuotaStatus, &k.gmailQuotaStatus)
        try read(.gmailConcurrentRequests, &k.gmailConcurrentRequests)
        try read(.gmailMaxResults, &k.gmailMaxResults)
        try read(.gmailBatchMaxParts, &k.gmailBatchMaxParts)
        try read(.gmailHistoryRetentionSeconds, &k.gmailHistoryRetentionSeconds)
        try read(.gmailWatchLifetimeSeconds, &k.gmailWatchLifetimeSeconds)
        try read(.gmailPushHistoryIdAsString, &k.gmailPushHistoryIdAsString)
        try read(.gmailPushAudience, &k.gmailPushAudience)
        try read(.gmailPushToken, &k.gmailPushToken)
        try read(.gmailRetryAfterStyle, &k.gmailRetryAfterStyle)
        try read(.accessTokenLifetimeSeconds, &k.accessTokenLifetimeSeconds)
        try read(.refreshTokenGraceSeconds, &k.refreshTokenGraceSeconds)
        try read(.throttlePercent, &k.throttlePercent)
        try read(.faultRetryAfterSeconds, &k.faultRetryAfterSeconds)
        try read(.serverErrorPercent, &k.serverErrorPercent)
        try read(.truncatedPercent, &k.truncatedPercent)
        try read(.malformedPercent, &k.malformedPercent)
        try read(.notificationDropPercent, &k.notificationDropPercent)
        try read(.notificationDuplicatePercent, &k.notificationDuplicatePercent)
        try read(.faultSeed, &k.faultSeed)
        self = k
    }

    /// These knobs with the keys present in `json` replaced (the body of `PATCH /_sim/knobs`).
    func patched(with json: Data) throws -> SimulatorKnobs {
        guard let patch = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              var current = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as? [String: Any]
        else { throw SimulatorError.badRequest("knobs must be a JSON object") }
        let unknown = Set(patch.keys).subtracting(current.keys)
        guard unknown.isEmpty else {
            throw SimulatorError.badRequest("unknown knobs: \(unknown.sorted().joined(separator: ", "))")
        }
        current.merge(patch) { _, new in new }
        do {
            return try JSONDecoder().decode(SimulatorKnobs.self, from: JSONSerialization.data(withJSONObject: current))
        } catch {
            throw SimulatorError.badRequest("a knob has a value of the wrong type")
        }
    }
}
