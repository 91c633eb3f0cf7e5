import BackfillCore
import Foundation
import Logging
import ServiceLifecycle

/// The safety-net tick (hourly by default). Every instance wakes at each period boundary; exactly one
/// wins the tick id in Redis and runs it. After downtime only the current tick runs (one catch-up).
/// A run nudges every unfinished backfill, flags running ones with no progress as stalled, and calls the
/// hooks (subscription and watch renewal plug in here).
public struct PeriodicTick: Service {
    public typealias Hook = @Sendable (_ tickId: Int64) async throws -> Void

    let scheduler: Scheduler
    let hooks: [Hook]
    let logger: Logger
    let metrics = SchedulerMetrics()

    public init(scheduler: Scheduler, hooks: [Hook] = [], logger: Logger) {
        self.scheduler = scheduler
        self.hooks = hooks
        self.logger = logger
    }

    public func run() async throws {
        let period = max(scheduler.configuration.tickPeriod.milliseconds, 1)
        // Cancelled on graceful shutdown, which also ends the sleep until the next boundary.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let now = try await redisNow()
                    let tickId = now / period
                    if try await claim(tickId) {
                        try await runTick(tickId, now: now)
                    }
                    // Sleep to the next boundary, plus a little so instances do not race on the edge.
                    let wait = (tickId + 1) * period - now + Int64.random(in: 0...50)
                    try await Task.sleep(for: .milliseconds(wait))
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("tick failed; retrying", metadata: [LogKey.error: "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Exactly one caller wins each tick id.
    func claim(_ tickId: Int64) async throws -> Bool {
        let keys = scheduler.keys
        return try await scheduler.redis.run(
            SchedulerScripts.tick, keys: [keys.tick, keys.tickLog, keys.stats],
            arguments: [String(tickId), scheduler.configuration.instanceId]
        ).int == 1
    }

    /// One tick's work, as the instance that won `tickId` runs it (`now` in ms on Redis's clock); public for
    /// the tick bench.
    public func runTick(_ tickId: Int64, now: Int64) async throws {
        metrics.ticks.increment()
        let started = ContinuousClock.now
        let stallBefore = now - scheduler.configuration.stallAfter.milliseconds
        var cursor = "0"
        var nudged = 0
        var stalled = 0
        repeat {
            let page = try await scheduler.redis.send(["SSCAN", scheduler.keys.active, cursor, "COUNT", "500"])
            guard let parts = page.array, parts.count == 2, let next = parts[0].string else { break }
            cursor = next
            let ids = parts[1].array?.compactMap(\.string) ?? []
            if ids.isEmpty { continue }
            let states = try await scheduler.redis.pipeline(ids.map {
                ["HMGET", scheduler.keys.backfill($0)] + [BackfillField.state, .lastProgressAt, .stalled].map(\.rawValue)
            })
            var runnable: [String] = []
            var stalls: [[String]] = []
            for (id, reply) in zip(ids, states) {
                let fields = reply.array ?? []
                guard let state = fields.first?.string.flatMap(BackfillState.init(rawValue:)) else { continue }
                if state.isRunnable { runnable.append(id) }
                let progress = fields.count > 1 ? fields[1].string.flatMap(Int64.init) : nil
                if state == .running, let progress, progress < stallBefore, fields.count > 2, fields[2].string != "1" {
                    stalls.append(["HSET", scheduler.keys.backfill(id), BackfillField.stalled.rawValue, "1"])
                }
            }
            if !stalls.isEmpty { _ = try await scheduler.redis.pipeline(stalls) }
            stalled += stalls.count
            nudged += try await scheduler.nudge(runnable)
        } while cursor != "0"
        for hook in hooks {
            try await hook(tickId)
        }
        logger.info("tick ran", metadata: [
            LogKey.tick: "\(tickId)", "nudged": "\(nudged)", "stalled": "\(stalled)",
            "duration": "\(ContinuousClock.now - started)",
        ])
    }

    private func redisNow() async throws -> Int64 {
        let parts = try await scheduler.redis.send(["TIME"]).strings.compactMap { Int64($0) }
        guard parts.count == 2 else { throw SchedulerError(message: "TIME replied unexpectedly") }
        return parts[0] * 1000 + parts[1] / 1000
    }
}
