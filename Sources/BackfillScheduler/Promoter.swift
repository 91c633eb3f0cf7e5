import Logging
import ServiceLifecycle

/// Moves due entries of the retry set to the nudge queue, and starts the real-time catch-ups that are due
/// (`realtime:due`: polled mailboxes, safety catch-ups, retries after a failed catch-up). It sleeps in a
/// blocking pop on `retry:wake` until the earliest due time (a park with an earlier time wakes it), so it
/// neither polls the retry set nor waits late; with catch-ups scheduled it looks at least every `idleWait`.
public struct Promoter: Service {
    let scheduler: Scheduler
    let logger: Logger
    /// Entries moved per script call.
    let batch = 500
    /// How often an idle promoter looks at `realtime:due`: the longest a catch-up whose scheduling woke
    /// another promoter (the wake token goes to one) waits past its due time here.
    let catchUpRecheck: Duration = .seconds(5)

    public init(scheduler: Scheduler, logger: Logger) {
        self.scheduler = scheduler
        self.logger = logger
    }

    public func run() async throws {
        let keys = scheduler.keys
        let longest = scheduler.configuration.idleWait
        // With an empty retry set, a timed-out wait means nothing was parked (every park pushes a wake
        // token), so the promote script need not run again, except now and then in case another instance
        // took the token and died before promoting.
        var emptySince: ContinuousClock.Instant?
        var woken = true
        var nextCatchUpCheck = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                var wait = longest
                // Catch-ups: at their due time, and at least every `catchUpRecheck` for entries added since
                // (another instance or connection may have scheduled an earlier one).
                if ContinuousClock.now >= nextCatchUpCheck {
                    let catchUps = try await scheduler.startDueCatchUps(batch: batch)
                    if catchUps.started == batch { continue }
                    let untilNext: Duration = catchUps.next.map { .milliseconds(max($0 - catchUps.now, 1)) } ?? catchUpRecheck
                    nextCatchUpCheck = ContinuousClock.now + min(untilNext, catchUpRecheck)
                }
                wait = min(wait, max(nextCatchUpCheck - ContinuousClock.now, .milliseconds(1)))
                if woken || emptySince.map({ ContinuousClock.now - $0 > .seconds(30) }) ?? true {
                    let reply = try await scheduler.redis.run(
                        SchedulerScripts.promote, keys: [keys.retry, keys.nudged, keys.nudges], arguments: [String(batch)]
                    ).strings
                    guard reply.count == 3, let moved = Int(reply[0]), let next = Int64(reply[1]), let now = Int64(reply[2]) else {
                        throw SchedulerError.unexpectedReply(script: "promote", reply)
                    }
                    if moved == batch { continue }
                    emptySince = next < 0 ? ContinuousClock.now : nil
                    if next >= 0 { wait = min(.milliseconds(max(next - now, 1)), wait) }
                }
                let token = try await scheduler.redis.blocking(["BLPOP", keys.retryWake, wait.redisTimeout], timeout: wait + .seconds(5))
                woken = !token.isNull || emptySince == nil
                // The token may be for a catch-up scheduled earlier than any this promoter knew of.
                if !token.isNull { nextCatchUpCheck = ContinuousClock.now }
            } catch {
                logger.warning("promoter failed; retrying", metadata: [LogKey.error: "\(error)"])
                woken = true
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
