/// One page of the backfill event feed: events in sequence order, and where the next page starts.
public struct BackfillEventPage: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var seq: Int64
        public var event: BackfillEvent

        public init(seq: Int64, event: BackfillEvent) {
            self.seq = seq
            self.event = event
        }
    }

    public var events: [Entry]
    /// The last sequence number of the page, or the `after` asked for when the page is empty.
    public var next: Int64

    public init(events: [Entry], next: Int64) {
        self.events = events
        self.next = next
    }
}
