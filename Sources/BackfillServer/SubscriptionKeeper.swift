import BackfillCore
import BackfillScheduler
import Foundation
import Logging

/// Keeps every connected mailbox's push channel alive: the Graph subscription (notifications to
/// `/webhooks/graph`, with a per-connection `clientState` the webhook checks) or the Gmail watch. Runs on
/// each periodic tick; the provider renews only what expires within a day.
///
/// It also makes sure no mail waits for a notification that cannot come: a mailbox without a live push
/// channel (creating it failed, or Gmail has no topic) and no backfill under way is marked dirty and nudged
/// at every tick, so it catches up at least that often; a channel just created gets one catch-up (mail may
/// have arrived while there was none); and a connection still dirty (its catch-up failed) is nudged again.
public struct SubscriptionKeeper: Sendable {
    let directory: RedisConnectionDirectory
    let scheduler: Scheduler
    let realtime: any RealtimeSync
    /// Where providers reach this service, e.g. https://backfill.example.com.
    let publicURL: String
    /// The Pub/Sub topic Gmail watches publish to; empty: no Gmail watch.
    let gmailTopic: String
    let logger: Logger

    public init(
        directory: RedisConnectionDirectory, scheduler: Scheduler, realtime: any RealtimeSync, publicURL: String,
        gmailTopic: String, logger: Logger
    ) {
        self.directory = directory
        self.scheduler = scheduler
        self.realtime = realtime
        self.publicURL = publicURL
        self.gmailTopic = gmailTopic
        self.logger = logger
    }

    /// Connections renewed at once: each renewal waits on the provider (and Graph's validation handshake),
    /// so one at a time makes a tick over thousands of mailboxes take minutes.
    static let concurrentRenewals = 16

    /// A connection's push channel after `ensure`.
    public enum PushChannel: Sendable, Equatable {
        /// Live, as it was.
        case live
        /// Made just now where none was live.
        case created
        /// None: creating or renewing it failed, or the provider has no channel configured.
        case none
    }

    /// What the tick does for a connection besides its channel.
    enum Poke: Sendable {
        /// Mark dirty and nudge: a catch-up is due.
        case catchUp
        /// Nudge only: it is dirty already (its last catch-up failed).
        case nudge
    }

    /// The tick hook: every connection that still has credentials, a bounded number at a time; stops at
    /// cancellation (graceful shutdown) instead of logging a failure for each connection left.
    public func renewAll(_ tickId: Int64) async throws {
        let connections = try await directory.list().filter { $0.health != .disconnected }
        var catchUps: [String] = []
        var nudges: [String] = []
        func note(_ outcome: (id: String, poke: Poke?)) {
            switch outcome.poke {
            case .catchUp: catchUps.append(outcome.id)
            case .nudge: nudges.append(outcome.id)
            case nil: break
            }
        }
        try await withThrowingTaskGroup(of: (id: String, poke: Poke?).self) { group in
            for (index, connection) in connections.enumerated() {
                if index >= Self.concurrentRenewals, let outcome = try await group.next() { note(outcome) }
                try Task.checkCancellation()
                group.addTask { (connection.id, await poke(connection, channel: ensure(connection))) }
            }
            for try await outcome in group { note(outcome) }
        }
        for id in catchUps { try await directory.markDirty(id) }
        let queued = try await scheduler.nudge(catchUps + nudges)
        if !catchUps.isEmpty || !nudges.isEmpty {
            logger.info("tick catch-ups", metadata: [
                "tick": "\(tickId)", "catchUps": "\(catchUps.count)", "dirtyNudges": "\(nudges.count)", "queued": "\(queued)",
            ])
        }
    }

    /// Opens a newly connected (or reconnected) mailbox's push channel, then has a worker catch up once:
    /// that takes the real-time cursor now, so mail from the connection on is delivered even before a
    /// backfill starts (or with `skip`). Failures are logged; the tick tries again.
    public func open(_ connection: Connection) async {
        await ensure(connection)
        do {
            _ = try await directory.markDirty(connection.id)
            try await scheduler.nudge([connection.id])
        } catch {
            logger.warning("could not queue the first catch-up", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
        }
    }

    /// Whether the connection needs a catch-up or a nudge, given its push channel. Failures are logged and
    /// count as nothing to do, so one broken mailbox does not stop the others.
    func poke(_ connection: Connection, channel: PushChannel) async -> Poke? {
        if channel == .created { return .catchUp }
        do {
            if try await directory.dirtyCount(connection.id) > 0 { return .nudge }
            // Without a channel, and with no backfill a worker would run (its commits catch up), poll at
            // every tick.
            guard channel == .none, connection.health != .error else { return nil }
            let runnable = try await scheduler.backfill(connectionId: connection.id)?.state.isRunnable ?? false
            return runnable ? nil : .catchUp
        } catch {
            logger.warning("could not check the connection for a catch-up", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
            return nil
        }
    }

    /// Creates or renews one connection's subscription or watch; failures are logged, never thrown, so
    /// one broken mailbox does not stop the others.
    @discardableResult
    public func ensure(_ connection: Connection) async -> PushChannel {
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        do {
            let status: SubscriptionStatus
            switch connection.provider {
            case .graph:
                let clientState = try await clientState(for: connection.id)
                status = try await realtime.ensureSubscription(
                    connectionId: connection.id, notificationURL: publicURL + "/webhooks/graph", clientState: clientState
                )
                try await directory.registerSubscription(status.id, for: connection.id)
            case .gmail:
                guard !gmailTopic.isEmpty else { return .none }
                status = try await realtime.ensureSubscription(connectionId: connection.id, notificationURL: gmailTopic, clientState: "")
            }
            return status.created ? .created : .live
        } catch {
            logger.warning("could not ensure the subscription; the next tick tries again", metadata: ["error": "\(error)"])
            return .none
        }
    }

    /// The secret Graph echoes in each notification, made once per connection and sealed at rest. One an
    /// older version kept in plain text (`graph.clientState`) is sealed and the plain copy removed.
    private func clientState(for id: String) async throws -> String {
        if let existing = try await directory.secret(WebhookRoutes.graphClientStateField, for: id) { return existing }
        let made = try await directory.syncState(for: id)[WebhookRoutes.legacyGraphClientStateField]
            ?? UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await directory.setSecret(made, field: WebhookRoutes.graphClientStateField, for: id)
        try await directory.updateSyncState([WebhookRoutes.legacyGraphClientStateField: ""], for: id)
        return made
    }
}
