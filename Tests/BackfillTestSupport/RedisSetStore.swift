import BackfillCore
import BackfillRedis

/// A message store for scheduler tests that keeps provider ids in a Redis set per connection, so that
/// separate harness processes (some of them killed) share what was stored. Idempotent like the real one.
public struct RedisSetStore: MessageStore {
    let redis: RedisClient
    let keys: TestKeys

    public init(redis: RedisClient, keys: TestKeys) {
        self.redis = redis
        self.keys = keys
    }

    public func insert(_ messages: [StoredMessage]) async throws -> Int {
        let byConnection = Dictionary(grouping: messages, by: \.connectionId)
        let replies = try await redis.pipeline(byConnection.map { id, group in
            ["SADD", keys.stored(id)] + group.map(\.providerMessageId)
        })
        return replies.reduce(0) { $0 + ($1.int ?? 0) }
    }

    public func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        MessagePage(messages: [], next: nil)
    }

    public func count(connectionId: String) async throws -> Int {
        try await redis.send(["SCARD", keys.stored(connectionId)]).int ?? 0
    }

    public func changes(after: Int64, limit: Int) async throws -> ChangePage {
        ChangePage(changes: [], next: after)
    }

    public func record(_ events: [BackfillEvent]) async throws -> Int { events.count }

    public func events(after: Int64, limit: Int) async throws -> BackfillEventPage {
        BackfillEventPage(events: [], next: after)
    }
}
