import BackfillCore
import BackfillRedis
import Foundation

/// A deterministic provider for scheduler tests. A connection id ends in its message count
/// (`small-40` holds 40 messages); the cursor is the offset of the next page. Faults are injected through
/// the test's Redis keys (`TestKeys.faults`), and every fetch is logged in `TestKeys.fetches`, so tests
/// can check which pages were fetched, by which instance and when.
public struct CountingMailProvider: MailProvider {
    let redis: RedisClient
    let keys: TestKeys
    let pageSize: Int
    let pageDelay: Duration
    let instance: String
    let slots: any SharedAdmission

    public init(
        redis: RedisClient, keys: TestKeys, pageSize: Int, pageDelay: Duration = .zero, instance: String,
        slots: any SharedAdmission = LocalSharedAdmission()
    ) {
        self.redis = redis
        self.keys = keys
        self.pageSize = pageSize
        self.pageDelay = pageDelay
        self.instance = instance
        self.slots = slots
    }

    public static func messageCount(of connectionId: String) -> Int {
        connectionId.split(separator: "-").last.flatMap { Int($0) } ?? 0
    }

    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        BackfillPreparation(estimatedTotal: Self.messageCount(of: job.connectionId))
    }

    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let id = job.connectionId
        let offset = cursor.flatMap { Int($0) } ?? 0
        try await slots.withSlot(mailbox: id) { [self] in
            try await injectedFault(connectionId: id, offset: offset)
            if pageDelay > .zero { try await Task.sleep(for: pageDelay) }
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await redis.send(["RPUSH", keys.fetches(id), "\(offset) \(instance) \(now)"])
        let count = Self.messageCount(of: id)
        let end = min(offset + pageSize, count)
        let messages = (offset..<end).map { index in
            StoredMessage(
                connectionId: id, providerMessageId: "\(id)-m\(index)", folder: index % 3 == 0 ? .sent : .inbox,
                receivedAt: job.window.end.addingTimeInterval(-Double(index) * 60), source: .backfill
            )
        }
        return BackfillPage(messages: messages, nextCursor: end < count ? String(end) : nil)
    }

    public func finish(_ job: BackfillJob) async throws {
        _ = try await redis.send(["RPUSH", keys.fetches(job.connectionId), "finish \(instance)"])
    }

    /// Faults, consumed once each: `throttle:OFFSET` = seconds (fractional allowed), `pace:OFFSET` = seconds
    /// (the mailbox's own quota pacing has no room for that long), `fail:OFFSET` = any
    /// (transient), `token:OFFSET` = any (refresh token revoked), `parent:OFFSET` = the parent's address,
    /// `hold:OFFSET` = an instance name (that instance's fetch waits until the field is deleted: a worker
    /// stuck mid-page while others go on).
    private func injectedFault(connectionId: String, offset: Int) async throws {
        let faults = keys.faults(connectionId)
        let replies = try await redis.pipeline([
            ["HGET", faults, "throttle:\(offset)"], ["HDEL", faults, "throttle:\(offset)"],
            ["HGET", faults, "fail:\(offset)"], ["HDEL", faults, "fail:\(offset)"],
            ["HGET", faults, "token:\(offset)"], ["HDEL", faults, "token:\(offset)"],
            ["HGET", faults, "parent:\(offset)"], ["HDEL", faults, "parent:\(offset)"],
            ["HGET", faults, "pace:\(offset)"], ["HDEL", faults, "pace:\(offset)"],
        ])
        if let seconds = replies[0].string.flatMap(Double.init) {
            throw ProviderFailure.throttled(retryAfter: .milliseconds(Int64(seconds * 1000)))
        }
        if let seconds = replies[8].string.flatMap(Double.init) {
            throw ProviderFailure.pacing(.milliseconds(Int64(seconds * 1000)))
        }
        if replies[2].string != nil {
            throw ProviderFailure.transient("injected failure at offset \(offset)")
        }
        if replies[4].string != nil {
            throw ProviderFailure.tokenExpired("invalid_grant")
        }
        if let parent = replies[6].string {
            throw ProviderFailure.parentUnavailable(parent)
        }
        while try await redis.send(["HGET", faults, "hold:\(offset)"]).string == instance {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
