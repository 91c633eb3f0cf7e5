// Quota efficiency and end-to-end throughput on the real path: scheduler (Redis), providers (libcurl),
// simulator (loopback HTTP), SQLite store. Run by ops/bench/quota, which starts a private Redis.
//
//   QuotaBench REDIS_URL [quotaScale] [gmailMessages]
//
// (a) A Gmail mailbox of `gmailMessages` (20,000) under the per-user quota of 15,000 units a minute times
//     `quotaScale` on both sides (simulator knob and client pacing): elapsed against the quota-bound minimum
//     (units spent / rate), and requests throttled. A Graph mailbox with 50 ms latency: most requests in flight
//     the simulator saw, and messages per second.
// (b) Zero latency and no limits: messages per second for 1 and for 100 Gmail mailboxes at once, then 100 Graph
//     mailboxes at once, against the store's own insert rate measured in the same run.
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
let quotaScale = arguments.count > 2 ? Double(arguments[2]) ?? 1 : 1
let gmailMessages = arguments.count > 3 ? Int(arguments[3]) ?? 20_000 : 20_000
/// "throughput" runs part (b) alone.
let onlyThroughput = arguments.count > 4 && arguments[4] == "throughput"
let quota = Int(15_000 * quotaScale)
let smallMailboxes = 101  // one alone, then 100 at once
let smallMessages = 200

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
let logger = Logger(label: "bench.quota")

let gmailBig = "big@example.net"
let graphUser = "ada@contoso.example"
let small = (0..<smallMailboxes).map { "small\($0)@example.net" }
let smallGraph = (1..<smallMailboxes).map { "small\($0)@contoso.example" }
var knobs = SimulatorKnobs()
knobs.gmailUserUnitsPerMinute = quota
let scenario = Scenario(seed: 5, mailboxes: [
    MailboxSpec(provider: .gmail, address: gmailBig, messageCount: gmailMessages),
    MailboxSpec(provider: .graph, address: graphUser, messageCount: 5_000),
] + small.map { MailboxSpec(provider: .gmail, address: $0, messageCount: smallMessages) }
  + smallGraph.map { MailboxSpec(provider: .graph, address: $0, messageCount: smallMessages) }, knobs: knobs)
let sim = try await SimulatorServer.start(scenario: scenario)
let http = HTTPClient()
let simulator = SimulatorControl(http: http, baseURL: sim.controlBaseURL)
let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL), logger: logger)
var configuration = SchedulerConfiguration(instanceId: "quota-bench")
configuration.keyPrefix = "qb\(UUID().uuidString.prefix(8).lowercased())"
configuration.workerConcurrency = 16
let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
let directory = scheduler.connectionDirectory(sealer: try TokenCipher(secret: "bench"))
let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("quota-bench-\(UUID().uuidString)")
let store = try SQLiteMessageStore(path: storeDirectory.appendingPathComponent("messages.sqlite").path)
defer { try? FileManager.default.removeItem(at: storeDirectory) }
let endpoints = ProviderEndpoints(
    graphBaseURL: sim.graphBaseURL, msLoginBaseURL: sim.microsoftLoginBaseURL, msTenant: scenario.tenantID,
    msClientId: scenario.graphClientID, msClientSecret: "secret", gmailBaseURL: sim.gmailBaseURL,
    googleOAuthBaseURL: sim.googleOAuthBaseURL, googleClientId: scenario.googleClientID, googleClientSecret: "secret"
)
let admission = RedisSharedAdmission(scheduler: scheduler)
let paced = ProviderRouter(endpoints: endpoints, directory: directory, http: http, admission: admission, gmailQuotaUnitsPerMinute: quota)
let unpaced = ProviderRouter(endpoints: endpoints, directory: directory, http: http, admission: admission, gmailQuotaUnitsPerMinute: 1_000_000_000)

/// Starts backfills of everything for `ids` and waits until all have completed; returns the seconds taken.
func backfill(_ ids: [String]) async throws -> Double {
    let now = try await simulator.now()
    let started = ContinuousClock.now
    for id in ids {
        guard case .created = try await scheduler.startBackfill(connectionId: id, range: .everything, now: now) else {
            throw BenchError("backfill not created")
        }
    }
    var pending = Set(ids)
    while !pending.isEmpty {
        try await Task.sleep(for: .milliseconds(100))
        for id in pending {
            guard let record = try await scheduler.backfill(connectionId: id) else { continue }
            if record.state == .completed { pending.remove(id) }
            if record.state == .failed { throw BenchError("backfill failed: \(record.error?.message ?? "")") }
        }
    }
    return (ContinuousClock.now - started).inSeconds
}

/// Runs a scheduler instance (workers, promoter, auditor) on `provider` around `body`.
func withScheduler<T: Sendable>(_ provider: ProviderRouter, _ body: () async throws -> T) async throws -> T {
    let group = ServiceGroup(services: [
        WorkerPool(scheduler: scheduler, provider: provider, store: store, realtime: provider, logger: logger),
        Promoter(scheduler: scheduler, logger: logger),
        Auditor(scheduler: scheduler, logger: logger),
    ], logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            throw error
        }
    }
}

// MARK: (a) Quota efficiency

if !onlyThroughput {
    print("(a) quota efficiency: Gmail quota \(quota) units/min on both sides (\(format(quotaScale, 1))× the real 15,000)")
    let (gmailSeconds, graphSeconds) = try await withScheduler(paced) {
        let gmail = try await simulator.connect(.gmail, gmailBig, in: directory)
        let gmailSeconds = try await backfill([gmail])
        try await simulator.call("PATCH", "knobs", body: ["latencyMs": 50])
        let graph = try await simulator.connect(.graph, graphUser, in: directory)
        let graphSeconds = try await backfill([graph])
        try await simulator.call("PATCH", "knobs", body: ["latencyMs": 0])
        return (gmailSeconds, graphSeconds)
    }
    let gmailJournal = try await simulator.requests(of: gmailBig)
    let rate = Double(quota) / 60
    let minimum = Double(gmailJournal.gmailUnits) / rate
    // The provider counts units over a trailing minute, so the first minute's worth can be spent at once.
    let windowMinimum = max(Double(gmailJournal.gmailUnits - quota), 0) / rate
    let gmailStored = try await store.count(connectionId: try await simulator.connect(.gmail, gmailBig, in: directory))
    print("  gmail: \(gmailStored) messages stored, \(gmailJournal.gmailUnits) units in \(gmailJournal.total) requests")
    print("  gmail: elapsed \(format(gmailSeconds)) s; quota-bound minimum (units / rate) \(format(minimum)) s; "
        + "ratio \(format(gmailSeconds / minimum, 3))×")
    print("  gmail: minimum with the first minute spent at once ((units − quota) / rate) \(format(windowMinimum)) s; "
        + "ratio \(format(gmailSeconds / max(windowMinimum, 0.001), 3))×")
    print("  gmail: throttled \(gmailJournal.throttled) / \(gmailJournal.total) requests = "
        + "\(format(100 * Double(gmailJournal.throttled) / Double(max(gmailJournal.total, 1)), 2))%")
    let graphStats = try await simulator.call("GET", "mailboxes/\(graphUser)/stats")
    let graphStored = try await store.count(connectionId: try await simulator.connect(.graph, graphUser, in: directory))
    print("  graph (50 ms latency): \(graphStored) messages in \(format(graphSeconds)) s = \(format(Double(graphStored) / graphSeconds, 0)) messages/s; "
        + "max in flight \(graphStats["maxInFlight"] as? Int ?? -1), requests \(graphStats["requests"] as? Int ?? -1), "
        + "Retry-After violations \(graphStats["violations"] as? Int ?? -1)")
}

// MARK: (b) Throughput without limits

print("(b) throughput, zero latency, no limits (client pacing off)")
try await simulator.call("PATCH", "knobs", body: ["gmailUserUnitsPerMinute": 1_000_000_000, "gmailConcurrentRequests": 1_000])
/// Backfills `addresses` all at once; returns the seconds taken and the messages stored.
func backfillAtOnce(_ provider: ProviderKind, _ addresses: [String]) async throws -> (seconds: Double, stored: Int) {
    var ids: [String] = []
    for address in addresses { ids.append(try await simulator.connect(provider, address, in: directory)) }
    let seconds = try await backfill(ids)
    var stored = 0
    for id in ids { stored += try await store.count(connectionId: id) }
    return (seconds, stored)
}
let (one, many, manyGraph) = try await withScheduler(unpaced) {
    try await simulator.call("DELETE", "journal")
    return (try await backfillAtOnce(.gmail, [small[0]]), try await backfillAtOnce(.gmail, Array(small.dropFirst())),
            try await backfillAtOnce(.graph, smallGraph))
}
let (oneSeconds, oneCount, manySeconds, manyCount) = (one.seconds, one.stored, many.seconds, many.stored)
let baselineStore = try SQLiteMessageStore(path: storeDirectory.appendingPathComponent("baseline.sqlite").path)
let rows = (0..<manyCount).map { index in
    StoredMessage(connectionId: "baseline-\(index / smallMessages)", providerMessageId: "m\(index)", folder: .inbox,
                  subject: "Message \(index)", from: "a@example.com", to: ["b@example.com"],
                  receivedAt: Date(timeIntervalSince1970: 1_700_000_000 - Double(index) * 60), snippet: String(repeating: "x", count: 200),
                  source: .backfill)
}
let insertStarted = ContinuousClock.now
for start in stride(from: 0, to: rows.count, by: 100) {
    _ = try await baselineStore.insert(Array(rows[start..<min(start + 100, rows.count)]))
}
let insertElapsed = ContinuousClock.now - insertStarted
let insertSeconds = insertElapsed.inSeconds
let insertRate = Double(rows.count) / insertSeconds
let oneRate = Double(oneCount) / oneSeconds
let manyRate = Double(manyCount) / manySeconds
print("  store baseline: \(rows.count) rows inserted in batches of 100 at \(format(insertRate, 0)) messages/s")
print("  1 mailbox: \(oneCount) messages at \(format(oneRate, 0)) messages/s = \(format(oneRate / insertRate, 3))× the store's rate")
print("  \(small.count - 1) mailboxes at once: \(manyCount) messages at \(format(manyRate, 0)) messages/s = "
    + "\(format(manyRate / insertRate, 3))× the store's rate")
let manyGraphRate = Double(manyGraph.stored) / manyGraph.seconds
print("  \(smallGraph.count) Graph mailboxes at once: \(manyGraph.stored) messages at \(format(manyGraphRate, 0)) messages/s = "
    + "\(format(manyGraphRate / insertRate, 3))× the store's rate")

await redis.close()
await http.shutdown()
await sim.stop()
