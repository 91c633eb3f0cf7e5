import BackfillCore
import BackfillScheduler
import Logging

/// Connects a mailbox, by tokens posted to the API or through the OAuth flow, and does what a reconnect
/// promises: shared mailboxes waiting on this one go on (and catch up on the mail that came meanwhile), and
/// a backfill that failed for want of a valid sign-in (token expired, permission lost) is retried. Either
/// way the mailbox's push channel is opened at once and it catches up once, so real-time sync starts with
/// the connection.
struct MailboxConnector: Sendable {
    let directory: RedisConnectionDirectory
    let scheduler: Scheduler
    let keeper: SubscriptionKeeper?
    let logger: Logger

    /// - Parameter credentials: nil only with `auth: .app` (the service's own token reads the mailbox).
    func connect(
        provider: ProviderKind, address: String, credentials: OAuthCredentials?, parentId: String? = nil,
        auth: ConnectionAuth = .delegated
    ) async throws -> (connection: Connection, reconnected: Bool) {
        let (connection, reconnected) = try await directory.connect(
            provider: provider, address: address, credentials: credentials, parentId: parentId, auth: auth
        )
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        await keeper?.open(connection)
        guard reconnected else {
            logger.info("mailbox connected", metadata: ["provider": "\(provider.rawValue)"])
            return (connection, false)
        }
        let children = try await directory.children(of: connection.id)
        try await scheduler.parentReconnected(children: children)
        for child in children {
            guard let shared = try await directory.connection(child), shared.health == .waitingOnParent else { continue }
            try await directory.setHealth(child, .healthy)
            try await scheduler.notify(child)
        }
        var wake = children
        if let backfill = try await scheduler.backfill(connectionId: connection.id), backfill.state == .failed,
           let code = backfill.error?.code, code == .tokenExpired || code == .permissionLost,
           case .moved = try await scheduler.apply(.retry, connectionId: connection.id) {
            logger.info("backfill retried after reconnect", metadata: ["failure": "\(code.rawValue)"])
            wake.append(connection.id)
        }
        try await scheduler.nudge(wake)
        logger.info("mailbox reconnected", metadata: ["children": "\(children.count)"])
        return (connection, true)
    }
}
