import Foundation

/// How a connection's new mail reaches the store after its backfill, as the API shows it.
public struct RealtimeStatus: Sendable, Equatable, Codable {
    /// How new mail is noticed.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// A live Graph subscription or Gmail watch: the provider notifies within seconds, and a safety
        /// catch-up runs when none came for a while (notifications can be lost).
        case push
        /// No push channel (a shared mailbox under a delegated token, a channel that failed, Gmail without a
        /// topic): caught up on a schedule, every poll period.
        case poll
    }

    public var mode: Mode
    /// When a catch-up last completed; nil before the first.
    public var lastCatchUpAt: Date?
    /// When the push channel expires unless renewed (renewals come before); nil when polled.
    public var channelExpiresAt: Date?

    /// Catch-ups failing in a row for a passing reason (new mail is late); nil once one succeeds.
    public var failing: RealtimeFailing?

    public init(mode: Mode, lastCatchUpAt: Date?, channelExpiresAt: Date?, failing: RealtimeFailing? = nil) {
        self.mode = mode
        self.lastCatchUpAt = lastCatchUpAt
        self.channelExpiresAt = channelExpiresAt
        self.failing = failing
    }

    enum CodingKeys: String, CodingKey {
        case mode, lastCatchUpAt, channelExpiresAt, failing
    }

    /// Every key is always present (null when unknown), as everywhere in the API.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mode, forKey: .mode)
        try container.encode(lastCatchUpAt, forKey: .lastCatchUpAt)
        try container.encode(channelExpiresAt, forKey: .channelExpiresAt)
        try container.encode(failing, forKey: .failing)
    }
}
