import Foundation

/// Real-time catch-ups failing in a row for a passing reason (a 5xx, a throttle, a bad answer): new mail is late,
/// and the service keeps trying by itself on a backoff. A refused token or lost permission is not this: it puts the
/// connection itself in `error`.
public struct RealtimeFailing: Sendable, Equatable, Codable {
    /// Catch-ups failed in a row since the last that succeeded.
    public var failures: Int
    /// The latest failure.
    public var code: BackfillErrorCode
    public var message: String
    /// When the next catch-up is due; nil when unknown.
    public var nextTryAt: Date?

    /// From this many failures in a row the connection shows that new mail is delayed: one or two are the
    /// provider's hiccups, tried again within seconds.
    public static let shownAfter = 3

    public init(failures: Int, code: BackfillErrorCode, message: String, nextTryAt: Date?) {
        self.failures = failures
        self.code = code
        self.message = message
        self.nextTryAt = nextTryAt
    }

    /// Whether the trouble has lasted long enough to show (`shownAfter`).
    public var isShown: Bool { failures >= Self.shownAfter }

    enum CodingKeys: String, CodingKey {
        case failures, code, message, nextTryAt
    }

    /// Every key is always present (null when unknown), as everywhere in the API.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(failures, forKey: .failures)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encode(nextTryAt, forKey: .nextTryAt)
    }
}
