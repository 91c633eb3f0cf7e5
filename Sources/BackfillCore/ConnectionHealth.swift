/// A connection's health badge.
public enum ConnectionHealth: String, Sendable, Codable, CaseIterable {
    case healthy
    /// A backfill or a catch-up is in progress.
    case syncing
    /// Token expired or permission lost: someone must act (reconnect, ask the admin).
    case error
    /// A shared mailbox whose parent connection is in error.
    case waitingOnParent = "waiting_on_parent"
    /// The token record was removed; stored messages are kept.
    case disconnected
}
