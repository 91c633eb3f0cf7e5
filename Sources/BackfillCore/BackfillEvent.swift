import Foundation

/// A backfill's lifecycle step as the host's event feed (`GET /v1/backfill-events`) tells it. The script that
/// makes the transition in Redis appends the event to an outbox in the same step, for the worker's transitions
/// (started: its preparation was recorded with the first page; completed; failed) and the API's commands
/// (paused, resumed, retried, cancelled); every instance relays the outbox into the message store, next to the
/// messages. `started` comes from the worker so that it precedes that backfill's `completed` in the feed: the
/// API's start queues the backfill, and a worker could finish a small one before the API's start returned.
public struct BackfillEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case started, paused, resumed, retried, completed, cancelled, failed
    }

    public var kind: Kind
    public var connectionId: String
    public var backfillId: String
    public var at: Date
    /// `completed`: how many messages the backfill pulled.
    public var pulled: Int?
    /// `failed`: the failure's code (`token_expired`, `permission_lost`, ...).
    public var errorCode: String?
    /// The outbox entry the event was relayed from: the store records one event per outbox id, so an entry
    /// relayed twice (by two instances, or again after a crash) shows once. Not part of the feed.
    public var outboxId: String?

    public init(
        kind: Kind, connectionId: String, backfillId: String, at: Date, pulled: Int? = nil, errorCode: String? = nil,
        outboxId: String? = nil
    ) {
        self.kind = kind
        self.connectionId = connectionId
        self.backfillId = backfillId
        self.at = at
        self.pulled = pulled
        self.errorCode = errorCode
        self.outboxId = outboxId
    }
}
