import BackfillCore
import BackfillScheduler
import Foundation
import Logging

/// Keeps every connected mailbox's push channel alive: the Graph subscription (notifications to
/// `/webhooks/graph`, with a per-connection `clientState` the webhook checks) or the Gmail watch. Runs on
/// each periodic tick; the provider renews only what expires within a day.
public struct SubscriptionKeeper: Sendable {
    let directory: RedisConnectionDirectory
    let realtime: any RealtimeSync
    /// Where providers reach this service, e.g. https://backfill.example.com.
    let publicURL: String
    /// The Pub/Sub topic Gmail watches publish to; empty: no Gmail watch.
    let gmailTopic: String
    let logger: Logger

    public init(directory: RedisConnectionDirectory, realtime: any RealtimeSync, publicURL: String, gmailTopic: String, logger: Logger) {
        self.directory = directory
        self.realtime = realtime
        self.publicURL = publicURL
        self.gmailTopic = gmailTopic
        self.logger = logger
    }

    /// Connections renewed at once: each renewal waits on the provider (and Graph's validation handshake),
    /// so one at a time makes a tick over thousands of mailboxes take minutes.
    static let concurrentRenewals = 16

    /// The tick hook: every connection that still has credentials, a bounded number at a time; stops at
    /// cancellation (graceful shutdown) instead of logging a failure for each connection left.
    public func renewAll(_ tickId: Int64) async throws {
        let connections = try await directory.list().filter { $0.health != .disconnected }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, connection) in connections.enumerated() {
                if index >= Self.concurrentRenewals { try await group.next() }
                try Task.checkCancellation()
                group.addTask { await ensure(connection) }
            }
            try await group.waitForAll()
        }
    }

    /// Creates or renews one connection's subscription or watch; failures are logged, never thrown, so
    /// one broken mailbox does not stop the others.
    public func ensure(_ connection: Connection) async {
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        do {
            switch connection.provider {
            case .graph:
                let clientState = try await clientState(for: connection.id)
                let status = try await realtime.ensureSubscription(
                    connectionId: connection.id, notificationURL: publicURL + "/webhooks/graph", clientState: clientState
                )
                try await directory.registerSubscription(status.id, for: connection.id)
            case .gmail:
                guard !gmailTopic.isEmpty else { return }
                _ = try await realtime.ensureSubscription(connectionId: connection.id, notificationURL: gmailTopic, clientState: "")
            }
        } catch {
            logger.warning("could not ensure the subscription; the next tick tries again", metadata: ["error": "\(error)"])
        }
    }

    /// The secret Graph echoes in each notification, made once per connection.
    private func clientState(for id: String) async throws -> String {
        if let existing = try await directory.syncState(for: id)["graph.clientState"] { return existing }
        let made = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await directory.updateSyncState(["graph.clientState": made], for: id)
        return made
    }
}
