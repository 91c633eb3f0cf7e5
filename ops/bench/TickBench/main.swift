import BackfillCore
import BackfillRedis
import BackfillScheduler
import BackfillServer
import Foundation
import Logging

// The periodic tick with many registered connections and nothing due: how long it takes and how many Redis
// commands it sends (INFO's total_commands_processed, the bench's own INFO calls taken out). Every connection
// has a live push channel renewed two days from now, a catch-up scheduled, and a completed backfill.
// Usage: TickBench REDIS_URL [CONNECTIONS]

/// A provider whose channels are live for three days; counts the calls (none is expected when nothing is due).
final class CountingChannels: RealtimeSync, @unchecked Sendable {
    private let lock = NSLock()
    private var calls = 0
    var count: Int { lock.withLock { calls } }

    func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        CatchUpResult(inserted: 0, resyncNeeded: false)
    }

    func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws -> SubscriptionStatus {
        lock.withLock { calls += 1 }
        return SubscriptionStatus(id: "sub-\(connectionId)", expiresAt: Date().addingTimeInterval(3 * 86_400), changed: false)
    }
}

struct PlainSealer: CredentialSealer {
    func seal(_ plaintext: Data) throws -> String { plaintext.base64EncodedString() }
    func open(_ sealed: String) throws -> Data { Data(base64Encoded: sealed) ?? Data() }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: TickBench REDIS_URL [CONNECTIONS]\n".utf8))
    exit(2)
}
let count = arguments.count > 2 ? Int(arguments[2]) ?? 10_000 : 10_000
var logger = Logger(label: "tick-bench")
logger.logLevel = .warning
let redis = RedisClient(configuration: try RedisConfiguration(url: arguments[1]), logger: logger)
var configuration = SchedulerConfiguration(instanceId: "tick-bench")
configuration.keyPrefix = "tickbench"
let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
let directory = scheduler.connectionDirectory(sealer: PlainSealer())
let channels = CountingChannels()
let keeper = SubscriptionKeeper(
    directory: directory, scheduler: scheduler, realtime: channels, publicURL: "http://127.0.0.1:1", gmailTopic: "topic", logger: logger
)

print("registering \(count) connections …")
let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
for index in 0..<count {
    let provider: ProviderKind = index % 2 == 0 ? .graph : .gmail
    let id = try await directory.connect(provider: provider, address: "user\(index)@example.com", credentials: credentials, parentId: nil)
        .connection.id
    _ = try await scheduler.startBackfill(connectionId: id, range: .last30Days)
    _ = try await scheduler.apply(.cancel, connectionId: id)  // finished: the tick has no backfill to nudge
    try await directory.recordChannel(
        id, mode: .push, expiresAt: Date().addingTimeInterval(3 * 86_400), renewAt: Date().addingTimeInterval(2 * 86_400),
        pollPeriod: configuration.pollPeriod
    )
}
// The nudge queue and its set (`P:nudges`, `P:nudged` in docs/redis-keys.md): the tick's work starts from empty.
_ = try await redis.send(["DEL", "\(configuration.keyPrefix):nudges", "\(configuration.keyPrefix):nudged"])

func commandsProcessed() async throws -> Int {
    let info = try await redis.send(["INFO", "stats"]).string ?? ""
    let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_commands_processed:") }
    return line.flatMap { Int($0.split(separator: ":")[1]) } ?? 0
}

let tick = PeriodicTick(scheduler: scheduler, hooks: [{ try await keeper.renewDue($0) }], logger: logger)
var durations: [Duration] = []
var commands: [Int] = []
for round in 1...5 {
    let before = try await commandsProcessed()
    let started = ContinuousClock.now
    try await tick.runTick(Int64(round), now: Int64(Date().timeIntervalSince1970 * 1000))
    durations.append(ContinuousClock.now - started)
    commands.append(try await commandsProcessed() - before - 1)  // the second INFO counts itself
}
let best = durations.min() ?? .zero
print("tick over \(count) connections, nothing due: best \(best), median \(durations.sorted()[durations.count / 2]); "
    + "Redis commands per tick \(commands.min() ?? 0)–\(commands.max() ?? 0); provider calls \(channels.count)")
_ = try await redis.send(["FLUSHDB"])
await redis.close()
