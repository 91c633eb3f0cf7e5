/// One page of the store-wide change feed: messages in sequence order, and where the next page starts.
public struct ChangePage: Sendable, Hashable {
    /// A stored message with the store-wide sequence number it got when it was inserted.
    public struct Change: Sendable, Hashable {
        public var seq: Int64
        public var message: StoredMessage

        public init(seq: Int64, message: StoredMessage) {
            self.seq = seq
            self.message = message
        }
    }

    public var changes: [Change]
    /// The last sequence number of the page, or the `after` asked for when the page is empty: pass it as
    /// the next `after`.
    public var next: Int64

    public init(changes: [Change], next: Int64) {
        self.changes = changes
        self.next = next
    }
}
