import Foundation

/// Where pulled messages are kept. Implementations must make `insert` idempotent on
/// (connectionId, providerMessageId): storing the same message twice leaves one row.
public protocol MessageStore: Sendable {
    /// Stores a batch in one transaction and returns how many of its messages were new.
    func insert(_ messages: [StoredMessage]) async throws -> Int
    /// Messages of one connection, newest first (by received time, then provider id), after a cursor.
    func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage
    /// How many messages are stored for a connection.
    func count(connectionId: String) async throws -> Int
    /// Every message stored across all connections with a sequence number above `after`, in sequence order
    /// (the host's change feed). Sequence numbers are assigned at insert and grow in commit order as a
    /// reader sees it: a reader that saw number N never later sees a new message below N.
    func changes(after: Int64, limit: Int) async throws -> ChangePage
    /// Records backfill lifecycle steps in one transaction, in the given order, numbered like the change feed (in
    /// commit order) but in a sequence of its own. An event whose `outboxId` is recorded already is left out
    /// (the outbox is relayed at least once). Returns how many were new.
    @discardableResult
    func record(_ events: [BackfillEvent]) async throws -> Int
    /// Lifecycle events with a sequence number above `after`, in sequence order.
    func events(after: Int64, limit: Int) async throws -> BackfillEventPage
}

/// Position after the last message of a page, for keyset paging (newest first).
public struct MessagePageCursor: Sendable, Hashable, Codable {
    public var receivedAt: Date
    public var providerMessageId: String

    public init(receivedAt: Date, providerMessageId: String) {
        self.receivedAt = receivedAt
        self.providerMessageId = providerMessageId
    }
}

/// One page of stored messages and the cursor for the next page (nil on the last).
public struct MessagePage: Sendable {
    public var messages: [StoredMessage]
    public var next: MessagePageCursor?

    public init(messages: [StoredMessage], next: MessagePageCursor?) {
        self.messages = messages
        self.next = next
    }
}
