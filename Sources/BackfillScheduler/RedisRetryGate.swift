import BackfillCore

/// The Retry-After gate in Redis, shared by every instance: `P:gate:{id}` holds the not-before time
/// (ms, Redis's clock) and expires by itself at that time (PX), so an open gate is simply no key.
///
/// Times come from Redis, not from each instance: the gate is set by one instance and read by another,
/// whose clocks may disagree; Redis's clock is the one they all share (leases and `retryAt` use it too).
/// Reading is a PTTL, so no instance's clock is involved at all.
public struct RedisRetryGate: RetryGate {
    let scheduler: Scheduler

    public init(scheduler: Scheduler) {
        self.scheduler = scheduler
    }

    public func remaining(mailbox: String) async throws -> Duration {
        // -2: no key (open); -1 cannot happen (the key is always set with PX).
        let ttl = try await scheduler.redis.send(["PTTL", scheduler.keys.gate(mailbox)]).int ?? -2
        return ttl > 0 ? .milliseconds(ttl) : .zero
    }

    public func close(mailbox: String, for wait: Duration) async throws {
        let ms = max(wait.milliseconds, 1)
        _ = try await scheduler.redis.run(SchedulerScripts.closeGate, keys: [scheduler.keys.gate(mailbox)], arguments: [String(ms)])
    }
}
