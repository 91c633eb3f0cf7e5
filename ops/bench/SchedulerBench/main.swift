import BackfillCore
import BackfillRedis
import BackfillScheduler
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

// Scheduler overhead with an instant in-process provider: claim + commit cycles per second over many
// connections, Redis round trips and commands per cycle, and nudge-to-claim latency with idle workers.
// Usage: SchedulerBench REDIS_URL [connections] [pagesPerConnection] [--concurrency N] [--slices 1,20] [--pool N]
//        [--no-latency]   (--pool: the Redis client's connections, 8 by default)
// A slice is what one claim covers: up to `slicePages` pages (default 20) or 20 s, so with 10 pages per connection
// and slices of 20 one slice is a whole backfill, and with 40 pages each backfill takes two slices.
var positional: [String] = []
var concurrency = 16
var slices = [1, 20]
var latency = true
var poolSize = 8
var argumentIterator = CommandLine.arguments.dropFirst().makeIterator()
while let argument = argumentIterator.next() {
    switch argument {
    case "--concurrency": concurrency = argumentIterator.next().flatMap { Int($0) } ?? concurrency
    case "--slices": slices = (argumentIterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
    case "--no-latency": latency = false
    case "--pool": poolSize = argumentIterator.next().flatMap { Int($0) } ?? poolSize
    default: positional.append(argument)
    }
}
let url = positional.first ?? "redis://127.0.0.1:6379"
let connections = positional.count > 1 ? Int(positional[1]) ?? 1000 : 1000
let pagesEach = positional.count > 2 ? Int(positional[2]) ?? 10 : 10
let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning  // one info line per completed backfill otherwise
    return logger
}()

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
    func changes(after: Int64, limit: Int) async throws -> ChangePage { ChangePage(changes: [], next: after) }
    func record(_ events: [BackfillEvent]) async throws -> Int { events.count }
    func events(after: Int64, limit: Int) async throws -> BackfillEventPage { BackfillEventPage(events: [], next: after) }
}

/// Calls per command from INFO commandstats: `roundTrips` are what clients sent (the scheduler only sends
/// EVALSHA and BLPOP, plus SCRIPT LOAD once per script); `commands` are every command Redis ran, those the
/// scripts ran inside Redis included (what the server does per page). The bench's own INFO and SCARD polls
/// are left out of both.
func commandCounts(_ redis: RedisClient) async throws -> (roundTrips: Int, commands: Int) {
    let info = try await redis.send(["INFO", "commandstats"]).string ?? ""
    var roundTrips = 0
    var commands = 0
    for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
        guard let range = line.range(of: "calls="), let calls = Int(line[range.upperBound...].prefix { $0.isNumber }) else { continue }
        if line.hasPrefix("cmdstat_info:") || line.hasPrefix("cmdstat_scard:") { continue }
        commands += calls
        if ["cmdstat_evalsha:", "cmdstat_blpop:", "cmdstat_script|load:"].contains(where: line.hasPrefix) { roundTrips += calls }
    }
    return (roundTrips, commands)
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
    // One HGETALL of the state counts the scripts keep (`P:bfcounts`), as the SCARD of `P:active` was.
    while try await scheduler.stateCounts().contains(where: { !$0.key.isFinished && $0.value > 0 }) {
        try await Task.sleep(for: .milliseconds(5))
    }
}

for slicePages in slices {
    var configuration = SchedulerConfiguration(instanceId: "bench")
    configuration.keyPrefix = "bench\(slicePages)-\(UUID().uuidString.prefix(6))"
    configuration.workerConcurrency = concurrency
    configuration.slicePages = slicePages
    let redis = RedisClient(configuration: try RedisConfiguration(url: url, poolSize: poolSize), logger: logger)
    let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
    let provider = InstantProvider(pages: pagesEach)
    for index in 0..<connections {
        _ = try await scheduler.startBackfill(connectionId: "c\(index)", range: .last90Days)
    }
    let before = try await commandCounts(redis)
    let started = ContinuousClock.now
    var finished = started
    // Timed until the last backfill completed, not through the instance's shutdown (an idle worker's
    // blocking pop lasts up to `idleWait`).
    try await withInstance(scheduler, provider) {
        try await waitUntilDone(scheduler)
        finished = ContinuousClock.now
    }
    let elapsed = (finished - started).seconds
    let after = try await commandCounts(redis)
    let cycles = Double(connections * pagesEach)
    print(String(format: "scheduler slice=%-2d concurrency=%d  %7.0f page-cycles/s  (%d connections x %d pages in %.2f s)  %.2f round-trips/page  %.2f commands/page",
                 slicePages, concurrency, cycles / elapsed, connections, pagesEach, elapsed,
                 Double(after.roundTrips - before.roundTrips) / cycles, Double(after.commands - before.commands) / cycles))
    await redis.close()
}

// Nudge-to-claim latency with idle workers: one connection at a time, time from the nudge to the first page.
if latency {
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
