import BackfillCore
import BackfillScheduler
import Foundation
import Logging

/// Keeps every connected mailbox's push channel alive: the Graph subscription (notifications to
/// `/webhooks/graph`, with a per-connection `clientState` the webhook checks) or the Gmail watch.
///
/// Renewals go by due time: each channel's next look is in `P:renewals`, set from what the provider
/// answered (before it expires, when the provider renews), so a tick costs what is due, not a call per
/// connection. What it finds sets the mailbox's real-time mode: `push` with a live channel, `poll`
/// without one (creating it failed, a shared mailbox under a delegated token, Gmail without a topic); the
/// scheduler then catches a polled mailbox up every poll period (`P:realtime:due`). A channel just created
/// gets one catch-up at once: mail may have arrived while there was none.
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

    /// Connections renewed at once: each renewal waits on the provider (and Graph's validation handshake).
    static let concurrentRenewals = 16
    /// Due renewals read per round.
    static let renewalBatch = 500
    /// A channel that could not be made is tried again after this (the mailbox is polled meanwhile).
    static let retryAfterFailure: TimeInterval = 600
    /// With no channel to keep (Gmail without a topic), the keeper looks again after this.
    static let recheckWithoutChannel: TimeInterval = 86_400

    /// A connection's push channel after `ensure`.
    public enum PushChannel: Sendable, Equatable {
        /// Live, as it was.
        case live
        /// Made just now where none was live.
        case created
        /// None: creating or renewing it failed, or the provider has no channel configured.
        case none
    }

    /// The tick hook: renews the channels that are due, a bounded number at a time; stops at cancellation
    /// (graceful shutdown) instead of logging a failure for each connection left. Returns how many it renewed.
    @discardableResult
    public func renewDue(_ tickId: Int64, now: Date = Date()) async throws -> Int {
        var renewed = 0
        var created: [String] = []
        while true {
            let due = try await directory.dueRenewals(at: now, limit: Self.renewalBatch)
            for connection in due where connection.health == .disconnected || connection.health == .error {
                try await directory.dropRenewal(connection.id)  // a reconnect makes its channel anew
            }
            let live = due.filter { $0.health != .disconnected && $0.health != .error }
            try await withThrowingTaskGroup(of: (String, PushChannel).self) { group in
                for (index, connection) in live.enumerated() {
                    if index >= Self.concurrentRenewals, let (id, channel) = try await group.next(), channel == .created { created.append(id) }
                    try Task.checkCancellation()
                    group.addTask { (connection.id, await ensure(connection)) }
                }
                for try await (id, channel) in group where channel == .created { created.append(id) }
            }
            renewed += live.count
            if due.count < Self.renewalBatch { break }
        }
        for id in created { try await scheduler.notify(id) }
        if renewed > 0 {
            logger.info("push channels renewed", metadata: ["tick": "\(tickId)", "renewed": "\(renewed)", "created": "\(created.count)"])
        }
        return renewed
    }

    /// Opens a newly connected (or reconnected) mailbox's push channel, then has a worker catch up once:
    /// that takes the real-time cursor now, so mail from the connection on is delivered even before a
    /// backfill starts (or with `skip`). Failures are logged; the mailbox is polled and the channel retried.
    public func open(_ connection: Connection) async {
        await ensure(connection)
        do {
            try await scheduler.notify(connection.id)
        } catch {
            logger.warning("could not queue the first catch-up", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
        }
    }

    /// Creates or renews one connection's subscription or watch; failures are logged, never thrown, so
    /// one broken mailbox does not stop the others.
    @discardableResult
    public func ensure(_ connection: Connection) async -> PushChannel {
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        let pollPeriod = scheduler.configuration.pollPeriod
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
                guard !gmailTopic.isEmpty else {
                    try await directory.recordChannel(
                        connection.id, mode: .poll, expiresAt: nil,
                        renewAt: Date().addingTimeInterval(Self.recheckWithoutChannel), pollPeriod: pollPeriod
                    )
                    return .none
                }
                status = try await realtime.ensureSubscription(connectionId: connection.id, notificationURL: gmailTopic, clientState: "")
            }
            try await directory.recordChannel(
                connection.id, mode: .push, expiresAt: status.expiresAt, renewAt: status.renewAt, pollPeriod: pollPeriod
            )
            return status.created ? .created : .live
        } catch {
            logger.warning("could not ensure the subscription; the mailbox is polled until it can", metadata: ["error": "\(error)"])
            try? await directory.recordChannel(
                connection.id, mode: .poll, expiresAt: nil, renewAt: Date().addingTimeInterval(Self.retryAfterFailure), pollPeriod: pollPeriod
            )
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
