import Logging
import ServiceLifecycle

/// Finds leases that expired without a commit (a killed worker) and nudges their connections, so a
/// crashed instance's work resumes within a lease period plus one audit period. Also queues again the
/// nudges a worker popped and died before claiming (`lostNudgeAfter`).
public struct Auditor: Service {
    let scheduler: Scheduler
    let logger: Logger

    public init(scheduler: Scheduler, logger: Logger) {
        self.scheduler = scheduler
        self.logger = logger
    }

    public func run() async throws {
        let keys = scheduler.keys
        // Cancelled on graceful shutdown, which also ends the sleep between rounds.
        try? await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                let found = try await scheduler.redis.run(
                    SchedulerScripts.audit, keys: [keys.leases, keys.nudged, keys.nudges], arguments: ["500"]
                ).int ?? 0
                if found > 0 { logger.notice("expired leases found; connections nudged", metadata: ["count": "\(found)"]) }
                let lost = try await scheduler.redis.run(
                    SchedulerScripts.requeueLost, keys: [keys.nudged, keys.nudges, keys.stats],
                    arguments: [String(scheduler.configuration.lostNudgeAfter.milliseconds)]
                ).int ?? 0
                if lost > 0 {
                    logger.notice("nudges lost by a worker that died before claiming; queued again", metadata: ["count": "\(lost)"])
                }
            } catch {
                logger.warning("auditor failed; retrying", metadata: [LogKey.error: "\(error)"])
            }
            try await Task.sleep(for: scheduler.configuration.auditPeriod)
        }
        }
    }
}
