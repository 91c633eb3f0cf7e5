import BackfillCore
import Foundation
import Logging

/// At most `requestsPerMailbox` provider requests in flight per mailbox across all instances, kept in
/// Redis as expiring permits (`P:slots:{id}`). A request that finds all slots taken waits until one is
/// returned or expires. A permit lives `requestSlotLifetime` (short, so a killed process's permits come
/// back soon) and is renewed while its request runs (so a slow request never lets one more in).
public struct RedisRequestSlots: RequestSlots {
    let scheduler: Scheduler

    public init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public func withSlot<T: Sendable>(mailbox: String, _ body: @Sendable () async throws -> T) async throws -> T {
        let key = scheduler.keys.slots(mailbox)
        let permit = UUID().uuidString
        let configuration = scheduler.configuration
        let lifetime = String(configuration.requestSlotLifetime.milliseconds)
        while true {
            let reply = try await scheduler.redis.run(
                SchedulerScripts.acquireSlot, keys: [key],
                arguments: [permit, String(configuration.requestsPerMailbox), lifetime]
            ).strings
            if reply.first == "1" { break }
            // All slots are busy (only when two holders overlap, e.g. a fenced worker still finishing):
            // wait briefly, bounded by the earliest expiry.
            let expiry = reply.count > 1 ? Int64(reply[1]) ?? 50 : 50
            try await Task.sleep(for: .milliseconds(min(max(expiry, 5), 50)))
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await renewing(key: key, permit: permit, lifetime: lifetime, body))
        } catch {
            outcome = .failure(error)
        }
        // Given back at once rather than left to expire; a failure here only delays the slot's return.
        _ = try? await scheduler.redis.send(["ZREM", key, permit])
        return try outcome.get()
    }

    /// Runs `body` while a child task keeps its permit alive.
    private func renewing<T: Sendable>(
        key: String, permit: String, lifetime: String, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await keepRenewing(key: key, permit: permit, lifetime: lifetime) }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Renews the permit every third of its lifetime until cancelled (the request ended). A failed
    /// renewal is retried at the next interval: the permit still has two thirds of its life.
    private func keepRenewing(key: String, permit: String, lifetime: String) async {
        let interval = scheduler.configuration.requestSlotLifetime / 3
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                if try await scheduler.redis.run(SchedulerScripts.renewSlot, keys: [key], arguments: [permit, lifetime]).int == 0 {
                    scheduler.logger.warning("a request outlived its slot (renewal came too late); one more request may run for the mailbox")
                    return
                }
            } catch {
                scheduler.logger.warning("request slot renewal failed; retrying", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}
