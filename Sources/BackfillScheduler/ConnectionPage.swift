import BackfillCore

/// A page of connections (`RedisConnectionDirectory.page`): each with its current backfill, the addresses
/// of their parents, and the cursor of the next page (nil on the last).
public struct ConnectionPage: Sendable {
    public struct Entry: Sendable {
        public var connection: Connection
        public var backfill: BackfillRecord?
    }

    public var entries: [Entry]
    /// Parent connection id → address, for the entries that have a parent.
    public var parentAddresses: [String: String]
    public var next: String?
}
