import Foundation

/// The real-time half of a provider: catching up from the stored cursor, and keeping the provider's
/// push channel (Graph subscription, Gmail watch) alive.
public protocol RealtimeSync: Sendable {
    /// Stores new Inbox/Sent mail since the stored real-time cursor in `store`, and only then advances the
    /// cursor: a failure or a crash in between leaves the cursor where it was, so the next catch-up fetches
    /// the same mail again (the store deduplicates) instead of skipping it. When the cursor had expired
    /// (Graph 410, Gmail history 404), a fresh one is taken and `resyncNeeded` is set.
    func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult
    /// Creates the subscription or watch, or renews it when it expires within a day. For Gmail,
    /// `notificationURL` is the Pub/Sub topic name and `clientState` is unused.
    func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
}

public struct CatchUpResult: Sendable, Equatable {
    /// Messages the catch-up stored that were not stored before (with `source == .realtime`).
    public var inserted: Int
    /// The cursor had expired: mail between the old cursor and now may be missing, so a backfill of
    /// that gap (or a full re-sync) is needed.
    public var resyncNeeded: Bool
    /// Messages the provider refused catch-up after catch-up, which this one went on without (`CatchUpRefusals`);
    /// they are listed with the connection's skipped messages.
    public var skipped: [SkippedMessage]

    public init(inserted: Int, resyncNeeded: Bool, skipped: [SkippedMessage] = []) {
        self.inserted = inserted
        self.resyncNeeded = resyncNeeded
        self.skipped = skipped
    }
}

public struct SubscriptionStatus: Sendable, Equatable {
    /// Graph subscription id; for Gmail, "watch".
    public var id: String
    public var expiresAt: Date
    /// Whether this call created or renewed it (false: the existing one was still good).
    public var changed: Bool
    /// Whether this call made a new one where none was live: mail that arrived before it was announced
    /// to nobody, so a catch-up is due.
    public var created: Bool
    /// When to call `ensureSubscription` again: the provider renews from then on (it leaves a channel that
    /// expires later than its renewal margin alone).
    public var renewAt: Date

    public init(id: String, expiresAt: Date, changed: Bool, created: Bool = false, renewAt: Date? = nil) {
        self.id = id
        self.expiresAt = expiresAt
        self.changed = changed
        self.created = created
        self.renewAt = renewAt ?? expiresAt.addingTimeInterval(-86_400)
    }
}
