import Logging
import ServiceLifecycle

/// Moves due entries of the retry set to the nudge queue. It sleeps in a blocking pop on `retry:wake`
/// until the earliest due time (a park with an earlier time wakes it), so it neither polls nor waits late.
public struct Promoter: Service {
    let scheduler: Scheduler
    let logger: Logger
    /// Entries moved per script call.
    let batch = 500

    public init(scheduler: Scheduler, logger: Logger) {
        self.scheduler = scheduler
        self.logger = logger
    }

    public func run() async throws {
        let keys = scheduler.keys
        let longest = scheduler.configuration.idleWait
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let reply = try await scheduler.redis.run(
                    SchedulerScripts.promote, keys: [keys.retry, keys.nudged, keys.nudges], arguments: [String(batch)]
                ).strings
                guard reply.count == 3, let moved = Int(reply[0]), let next = Int64(reply[1]), let now = Int64(reply[2]) else {
                    throw SchedulerError.unexpectedReply(script: "promote", reply)
                }
                if moved == batch { continue }
                let wait: Duration = next < 0 ? longest : min(.milliseconds(max(next - now, 1)), longest)
                _ = try await scheduler.redis.blocking(["BLPOP", keys.retryWake, wait.redisTimeout], timeout: wait + .seconds(5))
            } catch {
                logger.warning("promoter failed; retrying", metadata: [LogKey.error: "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
