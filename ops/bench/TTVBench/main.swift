// Time to value (issue 15): how soon a freshly connected mailbox is useful, on the real path (scheduler on Redis,
// providers over libcurl, the simulator on loopback, SQLite). Run by ops/bench/ttv, which starts a private Redis.
//
//   TTVBench REDIS_URL [latencies in ms, comma-separated]
//
// For each latency (default 150 and 300 ms a request): a Graph mailbox of about 8,500 messages in range and a Gmail
// mailbox of about 4,000, "90 days" picked, one at a time. Printed: seconds until the newest 7 days are stored,
// seconds until done, and each as a ratio to the bound the provider's limits set, computed in the same run:
//   Gmail: quota units spent ÷ 250 units/s (15,000 a minute);
//   Graph: pages of 1,000 per folder ÷ 4 requests in flight × latency (no serial setup).
import BackfillCore
import BackfillHTTP
import BackfillProviders
import BackfillRedis
import BackfillScheduler
import BackfillSimulator
import BackfillStore
import BenchSupport
import Foundation
import Logging
import ServiceLifecycle

let arguments = CommandLine.arguments
let redisURL = arguments.count > 1 ? arguments[1] : "redis://127.0.0.1:6379"
let latencies = (arguments.count > 2 ? arguments[2] : "150,300").split(separator: ",").compactMap { Int($0) }
/// TTV_PROVIDERS=graph (or gmail) runs one provider's cases; TTV_TIMELINE=1 prints each request's start, duration
/// and route relative to the backfill's start (where the round trips go).
let environment = ProcessInfo.processInfo.environment
let providers = Set((environment["TTV_PROVIDERS"] ?? "graph,gmail").split(separator: ",").map(String.init))
let printsTimeline = environment["TTV_TIMELINE"] == "1"

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
let logger = Logger(label: "bench.ttv")

// Every message in the last 89 days (inside "90 days" whenever the backfill starts); Inbox, its child folder and Sent
// are 85% of a mailbox by the default folder shares.
let recent = TimeSpread(days: 89, recentDays: 89, recentShare: 1)
func mailboxes(_ round: Int) -> [MailboxSpec] {
    [
        MailboxSpec(provider: .graph, address: "graph\(round)@contoso.example", messageCount: 10_000, spread: recent),
        MailboxSpec(provider: .gmail, address: "gmail\(round)@example.net", messageCount: 4_700, spread: recent),
    ]
}
let scenario = Scenario(seed: 15, mailboxes: latencies.indices.flatMap(mailboxes), knobs: SimulatorKnobs())
let sim = try await SimulatorServer.start(scenario: scenario)
let http = HTTPClient()
let simulator = SimulatorControl(http: http, baseURL: sim.controlBaseURL)
let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL), logger: logger)
var configuration = SchedulerConfiguration(instanceId: "ttv-bench")
configuration.keyPrefix = "ttv\(UUID().uuidString.prefix(8).lowercased())"
let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
let directory = scheduler.connectionDirectory(sealer: try TokenCipher(secret: "bench"))
let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ttv-bench-\(UUID().uuidString)")
let store = try SQLiteMessageStore(path: storeDirectory.appendingPathComponent("messages.sqlite").path)
defer { try? FileManager.default.removeItem(at: storeDirectory) }
let endpoints = ProviderEndpoints(
    graphBaseURL: sim.graphBaseURL, msLoginBaseURL: sim.microsoftLoginBaseURL, msTenant: scenario.tenantID,
    msClientId: scenario.graphClientID, msClientSecret: "secret", gmailBaseURL: sim.gmailBaseURL,
    googleOAuthBaseURL: sim.googleOAuthBaseURL, googleClientId: scenario.googleClientID, googleClientSecret: "secret"
)
let router = ProviderRouter(endpoints: endpoints, directory: directory, http: http, admission: RedisSharedAdmission(scheduler: scheduler))

/// Stored messages of a connection received at or after `since` (pages newest first, so only those are read).
func storedSince(_ connectionId: String, _ since: Date) async throws -> Int {
    var count = 0
    var cursor: MessagePageCursor?
    while true {
        let page = try await store.messages(connectionId: connectionId, limit: 500, after: cursor)
        let newer = page.messages.prefix { $0.receivedAt >= since }
        count += newer.count
        guard newer.count == page.messages.count, let next = page.next else { return count }
        cursor = next
    }
}

struct Run {
    var newestWeek: Double
    var done: Double
    var stored: Int
    var storedPerFolder: [FolderKind: Int]
}

/// Backfills "90 days" of one connection, sampling the store every 50 ms: when its newest week was complete
/// (the count it had at the end) and when the backfill completed.
func backfill(_ connectionId: String) async throws -> Run {
    let now = try await simulator.now()
    let started = ContinuousClock.now
    guard case .created = try await scheduler.startBackfill(connectionId: connectionId, range: .last90Days, now: now),
          let window = try await scheduler.backfill(connectionId: connectionId)?.window
    else { throw BenchError("backfill not created") }
    let weekStart = try require(window.newestFirst().first).start
    var samples: [(at: Double, newestWeek: Int)] = []
    var done: Double?
    while done == nil {
        try await Task.sleep(for: .milliseconds(50))
        samples.append(((ContinuousClock.now - started).inSeconds, try await storedSince(connectionId, weekStart)))
        guard let record = try await scheduler.backfill(connectionId: connectionId) else { continue }
        if record.state == .completed { done = (ContinuousClock.now - started).inSeconds }
        if record.state == .failed { throw BenchError("backfill failed: \(record.error?.message ?? "")") }
    }
    let finalWeek = try await storedSince(connectionId, weekStart)
    let newestWeek = samples.first { $0.newestWeek >= finalWeek }?.at ?? done!
    var perFolder: [FolderKind: Int] = [:]
    var cursor: MessagePageCursor?
    repeat {
        let page = try await store.messages(connectionId: connectionId, limit: 1000, after: cursor)
        for message in page.messages { perFolder[message.folder, default: 0] += 1 }
        cursor = page.next
    } while cursor != nil
    return Run(newestWeek: newestWeek, done: done!, stored: perFolder.values.reduce(0, +), storedPerFolder: perFolder)
}

func require<T>(_ value: T?) throws -> T {
    guard let value else { throw BenchError("missing value") }
    return value
}

/// The mailbox's requests, one line each: ms after `since` it arrived, how long it took, status and route.
func printTimeline(_ address: String, since: Date) async throws {
    let entries = try await simulator.call("GET", "journal?mailbox=\(address)")["value"] as? [[String: Any]] ?? []
    let origin = Int64(since.timeIntervalSince1970 * 1000)
    for entry in entries {
        let start = (entry["timeMs"] as? Int64 ?? Int64(entry["timeMs"] as? Int ?? 0)) - origin
        print("  +\(start) ms  \(entry["durationMs"] as? Int ?? -1) ms  \(entry["status"] as? Int ?? 0)  \(entry["route"] as? String ?? "")")
    }
}

let pool = WorkerPool(scheduler: scheduler, provider: router, store: store, realtime: router, logger: logger)
let group = ServiceGroup(services: [pool, Promoter(scheduler: scheduler, logger: logger), Auditor(scheduler: scheduler, logger: logger)],
                         logger: logger)
try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    print("| case | latency | messages | newest 7 days stored | whole range stored | requests / units | bound |")
    print("|---|---|---|---|---|---|---|")
    for (round, latency) in latencies.enumerated() {
        try await simulator.call("PATCH", "knobs", body: ["latencyMs": latency])
        let specs = mailboxes(round)
        if providers.contains("graph") {
            try await simulator.call("DELETE", "journal")
            let graphStarted = Date()
            let graph = try await backfill(try await simulator.connect(.graph, specs[0].address, in: directory))
            let graphStats = try await simulator.call("GET", "mailboxes/\(specs[0].address)/stats")
            let pages = graph.storedPerFolder.values.reduce(0) { $0 + ($1 + 999) / 1000 }
            let graphBound = Double(pages) / 4 * Double(latency) / 1000
            print("| Graph, 90 days | \(latency) ms | \(graph.stored) | \(format(graph.newestWeek)) s, \(format(graph.newestWeek / graphBound))× "
                + "| \(format(graph.done)) s, \(format(graph.done / graphBound))× | \(graphStats["requests"] as? Int ?? -1) requests "
                + "| \(pages) pages ÷ 4 × \(latency) ms = \(format(graphBound)) s |")
            if printsTimeline { try await printTimeline(specs[0].address, since: graphStarted) }
        }
        if providers.contains("gmail") {
            try await simulator.call("DELETE", "journal")
            let gmailStarted = Date()
            let gmail = try await backfill(try await simulator.connect(.gmail, specs[1].address, in: directory))
            let units = try await simulator.requests(of: specs[1].address).gmailUnits
            let gmailBound = Double(units) / 250
            print("| Gmail, 90 days | \(latency) ms | \(gmail.stored) | \(format(gmail.newestWeek)) s, \(format(gmail.newestWeek / gmailBound))× "
                + "| \(format(gmail.done)) s, \(format(gmail.done / gmailBound))× | \(units) units | \(units) ÷ 250/s = \(format(gmailBound)) s |")
            if printsTimeline { try await printTimeline(specs[1].address, since: gmailStarted) }
        }
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
}
await redis.close()
await http.shutdown()
await sim.stop()
