import BackfillCore
import Foundation
import Logging
import ServiceLifecycle

/// Moves lifecycle events from the outbox in Redis (`P:events`, appended by the transition scripts in the same
/// step as each transition) into the message store's event feed, oldest first, then deletes them. Every
/// instance runs one, so an event outlives the instance that made it: the feed is at least once, and the store
/// records each entry once by its id, so a host sees every event exactly once, in the order Redis made them.
///
/// Two relays may take the same entries; the store's check by outbox id keeps one. A relay records a batch in
/// order, and an entry leaves the outbox only once recorded, so an event is never recorded after a later one
/// of the same outbox. While the store refuses events they wait in the outbox (trimmed at `outboxCapacity`),
/// and the relay tries again after a backoff.
public struct EventRelay: Service {
    /// The most entries the outbox keeps (roughly: Redis trims whole nodes) while the store refuses them, about
    /// 20 MB: a store outage loses no event until 100,000 lifecycle steps wait. Past it the oldest are dropped.
    static let outboxCapacity = 100_000
    /// Entries recorded per store call.
    static let batch = 100
    /// Waits after a failure, doubling up to the longest.
    static let firstBackoff: Duration = .milliseconds(250)
    static let longestBackoff: Duration = .seconds(10)

    let scheduler: Scheduler
    let store: any MessageStore
    let logger: Logger

    public init(scheduler: Scheduler, store: any MessageStore, logger: Logger) {
        self.scheduler = scheduler
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        var backoff = Self.firstBackoff
        var failing = false
        var empty = false
        while !Task.isCancelled {
            // Shutting down: what the stopped workers left is relayed before the relay ends.
            let shuttingDown = Task.isShuttingDownGracefully
            do {
                if empty && !shuttingDown {
                    // Answers at once when an entry is there; the idle wait bounds a graceful shutdown's wait. An idle
                    // relay sends only this, one command per idle wait.
                    empty = try await !scheduler.waitForOutbox(timeout: scheduler.configuration.idleWait)
                    continue
                }
                let relayed = try await relayBatch()
                if failing { logger.notice("lifecycle events relayed again") }
                failing = false
                backoff = Self.firstBackoff
                if shuttingDown && relayed < Self.batch { return }
                empty = relayed < Self.batch
            } catch {
                if shuttingDown { return }
                // Logged when the trouble starts, not on every try: the store or Redis may be down for a while.
                if !failing {
                    logger.warning("could not relay lifecycle events; they wait in the outbox", metadata: [LogKey.error: "\(error)"])
                }
                failing = true
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, Self.longestBackoff)
            }
        }
    }

    /// How long an entry this version cannot read (a newer version's, during a rolling upgrade) is left for a newer
    /// instance to relay before it is dropped: it holds up every entry after it.
    static let unreadableGrace: Duration = .seconds(300)

    /// Records the oldest entries in the store and deletes them from the outbox; returns how many it took. It stops
    /// before an entry it cannot read, and takes that one only when it is the oldest and past `unreadableGrace`.
    func relayBatch(now: Date = Date()) async throws -> Int {
        let entries = try await scheduler.outboxEntries(limit: Self.batch)
        let readable = entries.prefix { $0.event != nil }
        if let oldest = entries.first, readable.isEmpty {
            guard let written = oldest.writtenAt, now.timeIntervalSince(written) > Double(Self.unreadableGrace.components.seconds) else {
                throw UnreadableEvent(id: oldest.id)
            }
            logger.error("dropping a lifecycle event this version cannot read", metadata: ["entry": "\(oldest.id)"])
            try await scheduler.removeFromOutbox([oldest.id])
            return 1
        }
        try await store.record(readable.compactMap(\.event))
        try await scheduler.removeFromOutbox(readable.map(\.id))
        return readable.count
    }

    /// The oldest outbox entry cannot be read by this version; it is left for a newer one a while.
    struct UnreadableEvent: Error, CustomStringConvertible {
        var id: String
        var description: String { "outbox entry \(id) cannot be read by this version; left for a newer instance" }
    }
}
