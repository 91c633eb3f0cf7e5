import BackfillCore
import BackfillRedis
import BackfillScheduler
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

// Scheduler overhead with an instant in-process provider: claim + commit cycles per second over many
// connections, Redis round trips per cycle, and nudge-to-claim latency with idle workers.
// Usage: SchedulerBench REDIS_URL [connections] [pagesPerConnection]
let arguments = CommandLine.arguments
let url = arguments.count > 1 ? arguments[1] : "redis://127.0.0.1:6379"
let connections = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
let pagesEach = arguments.count > 3 ? Int(arguments[3]) ?? 10 : 10
let logger = Logger(label: "bench")

/// Pages of 10 messages, answered at once; records when each connection's first page was asked for.
final class InstantProvider: MailProvider {
    let pages: Int
    let firstFetch = Mutex<[String: ContinuousClock.Instant]>([:])
    init(pages: Int) { self.pages = pages }

    func prepare(_ job: BackfillJob) async throws -> BackfillPreparation { BackfillPreparation(estimatedTotal: pages * 10) }

    func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        let page = cursor.flatMap { Int($0) } ?? 0
        if page == 0 {
            let now = ContinuousClock.now
            firstFetch.withLock { if $0[job.connectionId] == nil { $0[job.connectionId] = now } }
        }
        let messages = (0..<10).map { index in
            StoredMessage(connectionId: job.connectionId, providerMessageId: "\(page)-\(index)", folder: .inbox,
                          receivedAt: job.window.end, source: .backfill)
        }
        return BackfillPage(messages: messages, nextCursor: page + 1 < pages ? String(page + 1) : nil)
    }

    func finish(_ job: BackfillJob) async throws {}
}

/// Counts inserts; the store is not what is measured here.
struct CountingStore: MessageStore {
    func insert(_ messages: [StoredMessage]) async throws -> Int { messages.count }
    func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        MessagePage(messages: [], next: nil)
    }
    func count(connectionId: String) async throws -> Int { 0 }
}

/// Commands clients sent (round trips): the scheduler only sends EVALSHA and BLPOP (plus SCRIPT LOAD
/// once per script). Commands that scripts run inside Redis are not round trips and are left out.
func roundTrips(_ redis: RedisClient) async throws -> Int {
    let info = try await redis.send(["INFO", "commandstats"]).string ?? ""
    return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
        guard ["cmdstat_evalsha:", "cmdstat_blpop:", "cmdstat_script|load:"].contains(where: line.hasPrefix),
              let range = line.range(of: "calls=") else { return total }
        return total + (Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0)
    }
}

/// Runs an instance around `body`, then shuts it down.
func withInstance(_ scheduler: Scheduler, _ provider: InstantProvider, _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(services: [
        WorkerPool(scheduler: scheduler, provider: provider, store: CountingStore(), logger: logger),
        Promoter(scheduler: scheduler, logger: logger),
    ], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

func waitUntilDone(_ scheduler: Scheduler) async throws {
    while try await scheduler.redis.send(["SCARD", scheduler.keys.active]).int ?? 0 > 0 {
        try await Task.sleep(for: .milliseconds(20))
    }
}

for slicePages in [1, 20] {
    var configuration = SchedulerConfiguration(instanceId: "bench")
    configuration.keyPrefix = "bench\(slicePages)-\(UUID().uuidString.prefix(6))"
    configuration.workerConcurrency = 16
    configuration.slicePages = slicePages
    let redis = RedisClient(configuration: try RedisConfiguration(url: url, poolSize: 8), logger: logger)
    let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
    let provider = InstantProvider(pages: pagesEach)
    for index in 0..<connections {
        _ = try await scheduler.startBackfill(connectionId: "c\(index)", range: .last90Days)
    }
    let callsBefore = try await roundTrips(redis)
    let started = ContinuousClock.now
    try await withInstance(scheduler, provider) { try await waitUntilDone(scheduler) }
    let elapsed = (ContinuousClock.now - started).seconds
    let calls = try await roundTrips(redis) - callsBefore
    let cycles = connections * pagesEach
    print(String(format: "scheduler slice=%-2d  %7.0f page-cycles/s  (%d connections x %d pages in %.2f s)  %.2f round-trips/page",
                 slicePages, Double(cycles) / elapsed, connections, pagesEach, elapsed, Double(calls) / Double(cycles)))
    await redis.close()
}

// Nudge-to-claim latency with idle workers: one connection at a time, time from the nudge to the first page.
do {
    var configuration = SchedulerConfiguration(instanceId: "bench-latency")
    configuration.keyPrefix = "benchlat-\(UUID().uuidString.prefix(6))"
    let redis = RedisClient(configuration: try RedisConfiguration(url: url), logger: logger)
    let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
    let provider = InstantProvider(pages: 1)
    var samples: [Double] = []
    try await withInstance(scheduler, provider) {
        try await Task.sleep(for: .milliseconds(300))  // workers are idle in their blocking pop
        for index in 0..<300 {
            let id = "lat\(index)"
            let nudged = ContinuousClock.now
            _ = try await scheduler.startBackfill(connectionId: id, range: .last30Days)
            while provider.firstFetch.withLock({ $0[id] }) == nil { try await Task.sleep(for: .microseconds(200)) }
            samples.append((provider.firstFetch.withLock { $0[id] }! - nudged).seconds * 1000)
            try await waitUntilDone(scheduler)
        }
    }
    samples.sort()
    func percentile(_ p: Double) -> Double { samples[min(Int(Double(samples.count) * p), samples.count - 1)] }
    print(String(format: "nudge-to-claim latency (idle workers, %d samples): p50 %.2f ms  p99 %.2f ms  max %.2f ms",
                 samples.count, percentile(0.5), percentile(0.99), samples.last ?? 0))
    await redis.close()
}
