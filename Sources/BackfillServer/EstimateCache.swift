import BackfillCore
import Foundation

/// The last estimates per connection, kept in this process for `lifetime` (a minute): the picker may be
/// opened, closed and opened again without asking the provider each time. In process rather than in Redis:
/// an estimate is advice, cheap to make again, and an instance that has none simply asks (at most once a
/// minute per connection and instance). A failure is kept for `failureLifetime` only, so a reconnect shows
/// estimates soon after.
actor EstimateCache {
    struct Entry: Sendable {
        var view: EstimatesView
        var expiresAt: Date
    }

    let lifetime: TimeInterval
    let failureLifetime: TimeInterval
    /// Past this many entries the expired ones are dropped (the cache never grows with connections unseen
    /// for a minute).
    let pruneAbove: Int
    private var entries: [String: Entry] = [:]

    init(lifetime: TimeInterval = 60, failureLifetime: TimeInterval = 10, pruneAbove: Int = 1_000) {
        self.lifetime = lifetime
        self.failureLifetime = failureLifetime
        self.pruneAbove = pruneAbove
    }

    func cached(_ connectionId: String, now: Date) -> EstimatesView? {
        guard let entry = entries[connectionId], entry.expiresAt > now else { return nil }
        return entry.view
    }

    func store(_ view: EstimatesView, for connectionId: String, now: Date) {
        if entries.count >= pruneAbove { entries = entries.filter { $0.value.expiresAt > now } }
        entries[connectionId] = Entry(view: view, expiresAt: now.addingTimeInterval(view.error == nil ? lifetime : failureLifetime))
    }
}
