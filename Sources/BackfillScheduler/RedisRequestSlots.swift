import BackfillCore
import Foundation

/// At most `requestsPerMailbox` provider requests in flight per mailbox across all instances, kept in
/// Redis as expiring permits (`P:slots:{id}`). A request that finds all slots taken waits until one is
/// returned or expires.
public struct RedisRequestSlots: RequestSlots {
    let scheduler: Scheduler

    public init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public func withSlot<T: Sendable>(mailbox: String, _ body: @Sendable () async throws -> T) async throws -> T {
        let key = scheduler.keys.slots(mailbox)
        let permit = UUID().uuidString
        let configuration = scheduler.configuration
        while true {
            let reply = try await scheduler.redis.run(
                SchedulerScripts.acquireSlot, keys: [key],
                arguments: [permit, String(configuration.requestsPerMailbox), String(configuration.requestSlotLifetime.milliseconds)]
            ).strings
            if reply.first == "1" { break }
            // All slots are busy (only when two holders overlap, e.g. a fenced worker still finishing):
            // wait briefly, bounded by the earliest expiry.
            let expiry = reply.count > 1 ? Int64(reply[1]) ?? 50 : 50
            try await Task.sleep(for: .milliseconds(min(max(expiry, 5), 50)))
        }
        do {
            let result = try await body()
            _ = try? await scheduler.redis.send(["ZREM", key, permit])
            return result
        } catch {
            _ = try? await scheduler.redis.send(["ZREM", key, permit])
            throw error
        }
    }
}
