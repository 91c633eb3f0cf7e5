import BackfillCore
import BackfillHTTP
import BackfillProviders
import BackfillRedis
@testable import BackfillScheduler
import BackfillSimulator
import BackfillStore
import BackfillTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The whole backfill path with real parts: the simulator over loopback HTTP, the providers on the libcurl
/// client, the scheduler on the test Redis (a fresh key prefix), and the SQLite store in a temp file.
struct EndToEnd: Sendable {
    static let graphUser = "ada@contoso.example"
    static let graphShared = "support@contoso.example"
    static let gmailUser = "jo@example.net"

    let sim: SimulatorServer
    let http: HTTPClient
    let redis: RedisClient
    let scheduler: Scheduler
    let directory: RedisConnectionDirectory
    let store: SQLiteMessageStore
    let router: ProviderRouter
    let endpoints: ProviderEndpoints
    let storeDirectory: URL

    static func start(
        messageCount: Int = 400, gmailMessageCount: Int? = nil, configure: (inout SchedulerConfiguration) -> Void = { _ in }
    ) async throws -> EndToEnd {
        guard let url = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"] else {
            throw TestSetupError("BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test, which starts a redis-server")
        }
        let scenario = Scenario(seed: 11, mailboxes: [
            MailboxSpec(provider: .graph, address: graphUser, messageCount: messageCount),
            MailboxSpec(provider: .graph, address: graphShared, kind: .shared, owner: graphUser, messageCount: 120),
            MailboxSpec(provider: .gmail, address: gmailUser, messageCount: gmailMessageCount ?? messageCount),
        ])
        let sim = try await SimulatorServer.start(scenario: scenario)
        let endpoints = ProviderEndpoints(
            graphBaseURL: sim.graphBaseURL, msLoginBaseURL: sim.microsoftLoginBaseURL, msTenant: scenario.tenantID,
            msClientId: scenario.graphClientID, msClientSecret: "secret", gmailBaseURL: sim.gmailBaseURL,
            googleOAuthBaseURL: sim.googleOAuthBaseURL, googleClientId: scenario.googleClientID, googleClientSecret: "secret"
        )
        let logger = Logger(label: "test.e2e")
        let redis = RedisClient(configuration: try RedisConfiguration(url: url), logger: logger)
        var configuration = SchedulerConfiguration(instanceId: "e2e")
        configuration.keyPrefix = "e2e\(UUID().uuidString.prefix(8).lowercased())"
        configuration.leaseDuration = .seconds(10)
        configuration.auditPeriod = .milliseconds(300)
        configuration.idleWait = .milliseconds(500)
        configuration.retryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        configure(&configuration)
        let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
        let directory = scheduler.connectionDirectory(sealer: try TokenCipher(secret: "test secret"))
        let http = HTTPClient()
        let storeDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)")
        let store = try SQLiteMessageStore(path: storeDirectory.appendingPathComponent("messages.sqlite").path)
        let router = ProviderRouter(
            endpoints: endpoints, directory: directory, http: http, admission: RedisSharedAdmission(scheduler: scheduler)
        )
        return EndToEnd(sim: sim, http: http, redis: redis, scheduler: scheduler, directory: directory, store: store,
                        router: router, endpoints: endpoints, storeDirectory: storeDirectory)
    }

    /// Runs a scheduler instance (workers, promoter, auditor) around `body`, then shuts everything down.
    static func run(
        messageCount: Int = 400, gmailMessageCount: Int? = nil, configure: (inout SchedulerConfiguration) -> Void = { _ in },
        _ body: @Sendable (EndToEnd) async throws -> Void
    ) async throws {
        let env = try await start(messageCount: messageCount, gmailMessageCount: gmailMessageCount, configure: configure)
        let logger = Logger(label: "test.e2e")
        let group = ServiceGroup(services: [
            WorkerPool(scheduler: env.scheduler, provider: env.router, store: env.store, realtime: env.router, logger: logger),
            Promoter(scheduler: env.scheduler, logger: logger),
            Auditor(scheduler: env.scheduler, logger: logger),
        ], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var failure: (any Error)?
            do { try await body(env) } catch { failure = error }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            await env.redis.close()
            await env.http.shutdown()
            await env.sim.stop()
            try? FileManager.default.removeItem(at: env.storeDirectory)
            if let failure { throw failure }
        }
    }

    /// The providers of another instance: its own admission state, the same Redis (request slots, Retry-After gate).
    func otherInstance() -> ProviderRouter {
        ProviderRouter(
            endpoints: endpoints, directory: directory, http: http, admission: RedisSharedAdmission(scheduler: scheduler)
        )
    }

    // MARK: Connections and backfills

    /// Connects a mailbox with tokens the simulator issues, as the host application would post them.
    func connect(_ provider: ProviderKind, _ address: String, parentId: String? = nil) async throws -> String {
        let tokens = try await control("POST", "tokens", body: ["mailbox": parentId == nil ? address : Self.graphUser])
        let credentials = OAuthCredentials(
            accessToken: try #require(tokens["accessToken"] as? String),
            refreshToken: try #require(tokens["refreshToken"] as? String),
            expiresAt: Date().addingTimeInterval(3000)
        )
        return try await directory.connect(provider: provider, address: address, credentials: credentials, parentId: parentId).connection.id
    }

    /// Starts a backfill pinned at the simulator's "now" and returns its window.
    func start(_ id: String, _ range: BackfillRange) async throws -> DateWindow {
        let now = try await simulatorNow()
        guard case .created = try await scheduler.startBackfill(connectionId: id, range: range, now: now) else {
            throw TestSetupError("backfill not created")
        }
        return try #require(range.window(pinnedAt: now))
    }

    func record(_ id: String) async throws -> BackfillRecord {
        try #require(try await scheduler.backfill(connectionId: id))
    }

    func waitFor(_ id: String, _ state: BackfillState, timeout: Duration = .seconds(30)) async throws {
        try await eventually("\(id) \(state.rawValue)", timeout: timeout) { try await record(id).state == state }
    }

    func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestSetupError("timed out after \(timeout): \(what)")
    }

    // MARK: The simulator's control API

    func expectedIds(_ address: String, _ window: DateWindow) async throws -> Set<String> {
        let query = "start=\(Self.iso(window.start))&end=\(Self.iso(window.end))"
        let object = try await control("GET", "mailboxes/\(address)/expected?\(query)")
        return Set(try #require(object["ids"] as? [String]))
    }

    func mailboxStats(_ address: String) async throws -> (maxInFlight: Int, violations: Int, requests: Int) {
        let object = try await control("GET", "mailboxes/\(address)/stats")
        return (object["maxInFlight"] as? Int ?? -1, object["violations"] as? Int ?? -1, object["requests"] as? Int ?? -1)
    }

    /// Requests the simulator's journal shows for the mailbox, and how many of them it refused as throttled.
    func journalCounts(_ address: String) async throws -> (requests: Int, throttled: Int) {
        let object = try await control("GET", "journal?mailbox=\(address)")
        let entries = try #require(object["value"] as? [[String: Any]])
        let throttled = entries.filter { [429, 403].contains($0["status"] as? Int ?? 0) }.count
        return (entries.count, throttled)
    }

    /// Requests the simulator saw inside a Retry-After that did not race the refusal. The client sends up to 4
    /// requests of a mailbox at once, so up to 3 others of a refused request's burst can be on the wire (or
    /// decided) before its 429 reaches the client; they arrive within moments of it. Any other early request,
    /// or one arriving later than `raceWindow` after the refusal, was sent past a gate the client knew of.
    func earlyRequestsNotRaced(_ address: String, raceWindow: Int = 30) async throws -> [String] {
        let object = try await control("GET", "journal?mailbox=\(address)")
        let entries = try #require(object["value"] as? [[String: Any]])
        var racedPerRefusal: [Int: Int] = [:]
        var late: [String] = []
        for (index, entry) in entries.enumerated() where entry["beforeRetryAfter"] as? Bool == true {
            let time = entry["timeMs"] as? Int ?? 0
            let refusal = entries[..<index].last { prior in
                [429, 503].contains(prior["status"] as? Int ?? 0)
                    && (prior["timeMs"] as? Int ?? 0) + (prior["durationMs"] as? Int ?? 0) <= time
            }
            let route = entry["route"] as? String ?? "?"
            guard let refusal, let sequence = refusal["sequence"] as? Int else { late.append("\(route): no refusal before it"); continue }
            let gap = time - (refusal["timeMs"] as? Int ?? 0) - (refusal["durationMs"] as? Int ?? 0)
            racedPerRefusal[sequence, default: 0] += 1
            if gap > raceWindow || racedPerRefusal[sequence, default: 0] > 3 {
                late.append("\(route) \(gap) ms after a \(refusal["status"] ?? "?") on \(refusal["route"] ?? "?")")
            }
        }
        return late
    }

    func setKnobs(_ knobs: [String: Any]) async throws {
        _ = try await control("PATCH", "knobs", body: knobs)
    }

    @discardableResult
    func control(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        let response = try await http.send(HTTPRequest(
            method: method, url: "\(sim.controlBaseURL)/\(path)", headers: ["Content-Type": "application/json"],
            body: try body.map { try JSONSerialization.data(withJSONObject: $0) }
        ))
        try #require((200..<300).contains(response.status), "control \(method) \(path) answered \(response.status)")
        guard !response.body.isEmpty else { return [:] }
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    func simulatorNow() async throws -> Date {
        let object = try await control("GET", "clock")
        let text = try #require(object["now"] as? String)
        return try #require(Self.isoFormatter().date(from: text) ?? ISO8601DateFormatter().date(from: text))
    }

    private static func iso(_ date: Date) -> String {
        isoFormatter().string(from: date).replacingOccurrences(of: "+", with: "%2B")
    }

    /// A new formatter per use: formatters are not safe to share between concurrent tests.
    private static func isoFormatter() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
