import Foundation

/// The real-time half of a provider: catching up from the stored cursor, and keeping the provider's
/// push channel (Graph subscription, Gmail watch) alive.
public protocol RealtimeSync: Sendable {
    /// New Inbox/Sent mail since the stored real-time cursor; advances the cursor. When the cursor had
    /// expired (Graph 410, Gmail history 404), a fresh one is taken and `resyncNeeded` is set.
    func catchUp(connectionId: String) async throws -> CatchUpResult
    /// Creates the subscription or watch, or renews it when it expires within a day. For Gmail,
    /// `notificationURL` is the Pub/Sub topic name and `clientState` is unused.
    func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
}

public struct CatchUpResult: Sendable {
    /// Messages to store, with `source == .realtime`; deduplicated by provider id.
    public var messages: [StoredMessage]
    /// The cursor had expired: mail between the old cursor and now may be missing, so a backfill of
    /// that gap (or a full re-sync) is needed.
    public var resyncNeeded: Bool

    public init(messages: [StoredMessage], resyncNeeded: Bool) {
        self.messages = messages
        self.resyncNeeded = resyncNeeded
    }
}

public struct SubscriptionStatus: Sendable, Equatable {
    /// Graph subscription id; for Gmail, "watch".
    public var id: String
    public var expiresAt: Date
    /// Whether this call created or renewed it (false: the existing one was still good).
    public var changed: Bool

    public init(id: String, expiresAt: Date, changed: Bool) {
        self.id = id
        self.expiresAt = expiresAt
        self.changed = changed
    }
}
