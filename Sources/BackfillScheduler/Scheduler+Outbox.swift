import BackfillCore
import BackfillRedis
import Foundation

/// The lifecycle events' outbox (`P:events`): the transition scripts append to it, `EventRelay` moves its entries
/// into the message store.
extension Scheduler {
    /// One outbox entry: its stream id, and its event (nil: an entry this version cannot read).
    struct OutboxEntry: Sendable, Equatable {
        var id: String
        var event: BackfillEvent?

        /// An entry as `XRANGE` answers it: `[id, [field, value, ...]]`.
        init?(reply: RedisReply) {
            guard let parts = reply.array, parts.count == 2, let id = parts[0].string, let flat = parts[1].array else { return nil }
            self.id = id
            var fields: [BackfillEventField: String] = [:]
            var iterator = flat.makeIterator()
            while let name = iterator.next()?.string, let value = iterator.next()?.string {
                if let field = BackfillEventField(rawValue: name) { fields[field] = value }
            }
            guard let kind = fields[.kind].flatMap(BackfillEvent.Kind.init(rawValue:)),
                  let connectionId = fields[.connectionId], let backfillId = fields[.backfillId], !backfillId.isEmpty,
                  let at = fields[.at].flatMap(Int64.init)
            else {
                event = nil
                return
            }
            event = BackfillEvent(
                kind: kind, connectionId: connectionId, backfillId: backfillId,
                at: Date(timeIntervalSince1970: Double(at) / 1000), pulled: fields[.pulled].flatMap { Int($0) },
                errorCode: fields[.errorCode], outboxId: id)
        }

        /// When Redis added the entry: a stream id starts with its time in ms.
        var writtenAt: Date? {
            id.split(separator: "-").first.flatMap { Int64($0) }.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
    }

    /// The oldest outbox entries, at most `limit`, oldest first.
    func outboxEntries(limit: Int) async throws -> [OutboxEntry] {
        let reply = try await redis.send(["XRANGE", keys.events, "-", "+", "COUNT", String(limit)])
        return try (reply.array ?? []).map { item in
            guard let entry = OutboxEntry(reply: item) else { throw SchedulerError.unexpectedReply(script: "XRANGE", [String(describing: item)]) }
            return entry
        }
    }

    /// Deletes entries once their events are recorded (deleting one already gone does nothing).
    func removeFromOutbox(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        _ = try await redis.send(["XDEL", keys.events] + ids)
    }

    /// Waits at most `timeout` for the outbox to hold an entry; answers at once when it holds one already. False:
    /// it stayed empty.
    func waitForOutbox(timeout: Duration) async throws -> Bool {
        let reply = try await redis.blocking(
            ["XREAD", "COUNT", "1", "BLOCK", String(timeout.milliseconds), "STREAMS", keys.events, "0-0"],
            timeout: timeout + .seconds(5))
        return !reply.isNull
    }

    /// How many events wait in the outbox (`/metrics`): above a few, the store is refusing them.
    public func outboxLength() async throws -> Int {
        try await redis.send(["XLEN", keys.events]).int ?? 0
    }
}
