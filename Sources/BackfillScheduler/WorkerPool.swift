import BackfillCore
import Logging
import ServiceLifecycle
import Synchronization

/// The instance's workers: waits on the nudge queue with a blocking pop (no polling), and runs up to
/// `workerConcurrency` connections at once. On graceful shutdown it stops popping, lets each worker end
/// its current page, and the workers release their leases so another instance can claim at once.
public final class WorkerPool: Service, Sendable {
    private let scheduler: Scheduler
    private let worker: Worker
    private let stopFlag: StopFlag
    private let logger: Logger

    public init(
        scheduler: Scheduler, provider: any MailProvider, store: any MessageStore, realtime: (any RealtimeSync)? = nil,
        logger: Logger
    ) {
        let stopFlag = StopFlag()
        self.scheduler = scheduler
        self.stopFlag = stopFlag
        self.logger = logger
        self.worker = Worker(
            scheduler: scheduler, provider: provider, store: store, realtime: realtime, metrics: SchedulerMetrics(),
            owner: scheduler.configuration.instanceId, logger: logger, stopping: { stopFlag.isSet }
        )
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await dispatch()
        } onGracefulShutdown: {
            self.stopFlag.set()
        }
    }

    private func dispatch() async throws {
        let concurrency = max(scheduler.configuration.workerConcurrency, 1)
        let wait = scheduler.configuration.idleWait
        try await withThrowingTaskGroup(of: Void.self) { group in
            var busy = 0
            while !stopFlag.isSet {
                if busy >= concurrency {
                    try await group.next()
                    busy -= 1
                    continue
                }
                let popped: String?
                do {
                    let reply = try await scheduler.redis.blocking(
                        ["BLPOP", scheduler.keys.nudges, wait.redisTimeout], timeout: wait + .seconds(5)
                    )
                    popped = reply.array?.last?.string
                } catch {
                    logger.warning("waiting on the nudge queue failed; retrying", metadata: [LogKey.error: "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                guard let connectionId = popped else { continue }
                busy += 1
                group.addTask { [worker] in await worker.work(on: connectionId) }
            }
            try await group.waitForAll()
        }
    }
}

/// Set once, read from any thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

extension Duration {
    /// Seconds with millisecond precision, as BLPOP's timeout argument.
    var redisTimeout: String {
        let ms = max(milliseconds, 1)
        return "\(ms / 1000).\(String(format: "%03d", Int(ms % 1000)))"
    }
}
