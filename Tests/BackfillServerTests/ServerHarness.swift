import BackfillCore
import BackfillHTTP
import BackfillRedis
@testable import BackfillScheduler
@testable import BackfillServer
import BackfillStore
import BackfillTestSupport
import Hummingbird
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

/// One Backfill instance for one test: a fresh key prefix on the test Redis, a SQLite store in a temp
/// directory, a test provider, and the HTTP server on a free loopback port, run as a real service group.
struct ServerHarness: Sendable {
    let app: BackfillApp
    let port: Int
    let registry: PrometheusCollectorRegistry
    let http: HTTPClient
    let token: String?
    let redisURL: String
    /// Where the store file lives; `/readyz` writes a probe here.
    let dataDirectory: URL

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var scheduler: Scheduler { app.scheduler }
    var directory: RedisConnectionDirectory { app.directory }

    struct Options: Sendable {
        var token: String?
        /// Without workers a started backfill stays `queued`, which the command tests rely on.
        var workers = false
        var provider = TestMailProvider(messageCount: 25, pageSize: 10)
        /// 0 picks a free port once listening; a fixed one lets routes know the server's URL up front.
        var port = 0
        /// How Gmail pushes are authenticated (none: every push is refused).
        var gmailPush = GmailPushAuthentication()
        /// A Redis of the test's own (one it stops and starts); nil: the shared test server.
        var redisURL: String?
        /// Host names served besides loopback ones.
        var allowedHosts: [String] = []
        /// Bounds the store file (SQLite pages of 4 KiB): a write past it fails as on a full disk.
        var storeMaximumPages: Int?
        /// Extra routes built from the app (the OAuth connect flow).
        var routes: @Sendable (BackfillApp) -> (Router<BasicRequestContext>) -> Void = { _ in { _ in } }
    }

    /// Runs `body` against a live instance and shuts it down gracefully afterwards.
    static func with(_ options: Options = Options(), _ body: (ServerHarness) async throws -> Void) async throws {
        guard let redisURL = options.redisURL ?? ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"] else {
            throw TestSetupError("BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test, which starts a redis-server")
        }
        let prefix = "srv\(UUID().uuidString.prefix(8).lowercased())"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backfill-server-\(prefix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL), logger: logger)
        let store = try SQLiteMessageStore(path: directory.appendingPathComponent("messages.sqlite").path,
                                           maximumPages: options.storeMaximumPages)
        var server = ServerConfiguration(listen: ListenAddress(host: "127.0.0.1", port: options.port), apiToken: options.token)
        server.allowedHosts = options.allowedHosts
        server.eventPollInterval = .milliseconds(50)
        server.heartbeatInterval = .milliseconds(300)
        var scheduler = SchedulerConfiguration(instanceId: "test-\(prefix)")
        scheduler.keyPrefix = prefix
        scheduler.idleWait = .milliseconds(200)
        scheduler.auditPeriod = .milliseconds(200)
        let registry = PrometheusCollectorRegistry()
        let app = try BackfillApp(
            configuration: BackfillAppConfiguration(server: server, scheduler: scheduler, gmailPush: options.gmailPush),
            redis: redis, store: store,
            sealer: TestSealer(), readiness: .store(store, directory: directory), metrics: registry, logger: logger,
            provider: { _ in options.provider }
        )
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        var services = app.services(routes: options.routes(app), onListening: { address in portSink.yield(address.port) })
        if !options.workers { services.removeAll { $0 is WorkerPool } }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestSetupError("the server did not start") }
            let harness = ServerHarness(app: app, port: port, registry: registry, http: HTTPClient(), token: options.token, redisURL: redisURL,
                                        dataDirectory: directory)
            do {
                try await body(harness)
            } catch {
                await group.triggerGracefulShutdown()
                await harness.http.shutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            await harness.http.shutdown()
            try await tasks.waitForAll()
        }
        await redis.close()
    }

    // MARK: Requests

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        var text: String { String(decoding: body, as: UTF8.self) }

        func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
            try JSONDecoder.api.decode(type, from: body)
        }

        /// The API error's code and message (fails the test when the body is not one).
        func error() throws -> APIError.ErrorBody.Detail {
            try JSONDecoder().decode(APIError.ErrorBody.self, from: body).error
        }
    }

    /// Sends a request; the harness's token is sent unless `token` says otherwise ("" sends none).
    func request(_ method: String, _ path: String, json: String? = nil, body: Data? = nil, token: String? = nil,
                 headers extra: [(String, String)] = []) async throws -> Reply {
        var headers = HTTPHeaders(extra)
        if let bearer = token ?? self.token, !bearer.isEmpty { headers.add("Authorization", "Bearer \(bearer)") }
        var data = body
        if let json {
            headers.add("Content-Type", "application/json")
            data = Data(json.utf8)
        }
        let response = try await http.send(BackfillHTTP.HTTPRequest(method: method, url: baseURL + path, headers: headers, body: data,
                                                       totalTimeout: .seconds(10)))
        return Reply(status: response.status, headers: response.headers, body: response.body)
    }

    /// Connects a mailbox and returns its view.
    func connect(_ provider: String = "graph", _ address: String, parentId: String? = nil) async throws -> ConnectionView {
        let parent = parentId.map { #", "parentId": "\#($0)""# } ?? ""
        let reply = try await request("POST", "/v1/connections", json: """
            {"provider": "\(provider)", "address": "\(address)", "accessToken": "at-secret", "refreshToken": "rt-secret"\(parent)}
            """)
        guard reply.status == 201 || reply.status == 200 else { throw TestSetupError("connect answered \(reply.status): \(reply.text)") }
        return try reply.decode(ConnectionView.self)
    }

    func connection(_ id: String) async throws -> ConnectionView {
        let reply = try await request("GET", "/v1/connections/\(id)")
        guard reply.status == 200 else { throw TestSetupError("GET answered \(reply.status): \(reply.text)") }
        return try reply.decode(ConnectionView.self)
    }

    /// Waits until `condition` holds for the connection, checking every 20 ms, or fails after `timeout`.
    @discardableResult
    func wait(for id: String, timeout: Duration = .seconds(10), _ what: String,
              until condition: (ConnectionView) -> Bool) async throws -> ConnectionView {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let view = try await connection(id)
            if condition(view) { return view }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout) waiting for \(what)")
    }

    /// The lifecycle feed's first page once it holds `count` events (the relay records them moments after their
    /// transitions), checking every 20 ms, or fails after `timeout`.
    func lifecycleEvents(count: Int, timeout: Duration = .seconds(10)) async throws -> BackfillEventPageView {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let page = try await request("GET", "/v1/backfill-events?limit=1000").decode(BackfillEventPageView.self)
            if page.events.count >= count { return page }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout) waiting for \(count) lifecycle events")
    }

    /// The connection ids waiting in the nudge queue.
    func nudged() async throws -> [String] {
        try await scheduler.redis.send(["LRANGE", scheduler.keys.nudges, "0", "-1"]).array?.compactMap(\.string) ?? []
    }
}
