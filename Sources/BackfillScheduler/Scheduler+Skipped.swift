import BackfillCore
import BackfillRedis
import Foundation

/// Messages the provider refused to serve (`SkippedMessage`), listed per connection in `P:skipped:{id}` until they
/// are stored after all or a new backfill starts.
extension Scheduler {
    /// Lists `skipped` (a page's refusals) for the connection; the backfill's `skipped` count follows.
    public func recordSkipped(_ skipped: [SkippedMessage], connectionId: String) async throws {
        try await Self.recordSkipped(skipped, connectionId: connectionId, redis: redis, keys: keys)
    }

    /// The same for the connection directory (a catch-up's skipped messages).
    static func recordSkipped(_ skipped: [SkippedMessage], connectionId: String, redis: RedisClient, keys: SchedulerKeys) async throws {
        guard !skipped.isEmpty else { return }
        let encoder = JSONEncoder()
        var arguments = [connectionId, "add"]
        for entry in skipped {
            arguments += [entry.providerMessageId, String(decoding: try encoder.encode(entry), as: UTF8.self)]
        }
        _ = try await redis.run(SchedulerScripts.skipped, keys: keys.scriptKeys(connectionId), arguments: arguments)
    }

    /// Forgets skipped messages that were stored after all.
    public func forgetSkipped(_ providerMessageIds: [String], connectionId: String) async throws {
        guard !providerMessageIds.isEmpty else { return }
        _ = try await run(SchedulerScripts.skipped, connectionId, ["forget"] + providerMessageIds)
    }

    /// The connection's skipped messages, by provider id.
    public func skippedMessages(connectionId: String) async throws -> [SkippedMessage] {
        let decoder = JSONDecoder()
        return try await redis.send(["HVALS", keys.skipped(connectionId)]).strings
            .compactMap { try? decoder.decode(SkippedMessage.self, from: Data($0.utf8)) }
            .sorted { $0.providerMessageId < $1.providerMessageId }
    }
}
