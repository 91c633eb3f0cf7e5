import BackfillCore
import BackfillHTTP
import BackfillProviders
import BackfillRedis
import BackfillScheduler
@testable import BackfillServer
import BackfillSimulator
import BackfillStore
import BackfillTestSupport
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

/// App-only Microsoft 365 (issue 11): mailboxes connected with `"auth": "app"` are read and subscribed to with the
/// service's own client-credentials token, against the simulator over real HTTP, through the whole service (API,
/// keeper, webhooks, workers, SQLite).
@Suite("App-only Microsoft 365 connections")
struct AppOnlyConnectionTests {
    @Test("an app-only shared mailbox backfills the exact set, subscribes with the app token (a delegated one is refused there) and catches up on pushed mail")
    func sharedMailbox() async throws {
        try await AppOnlyFixture.with { fixture in
            let server = fixture.server
            let created = try await fixture.connectApp(AppOnlyFixture.shared)
            #expect(created.status == 201, "\(created.text)")
            let view = try created.decode(ConnectionView.self)
            #expect(view.auth == .app)
            #expect(view.parentId == nil)
            #expect(try await server.directory.credentials(for: view.id) == nil, "no tokens are stored for an app-only connection")
            // The keeper made the subscription at connect: push, with the app's service principal as its creator.
            #expect(try await server.connection(view.id).realtime?.mode == .push)
            let subscriptions = try await fixture.simulatorSubscriptions()
            #expect(subscriptions.count == 1)
            #expect(subscriptions.first?["creatorId"] as? String == (try await fixture.control("GET", "/app")["servicePrincipalId"] as? String))
            #expect((subscriptions.first?["resource"] as? String)?.removingPercentEncoding == "users/\(AppOnlyFixture.shared)/messages")
            // The owner's delegated token may not subscribe to the shared mailbox.
            let owner = try #require(try await fixture.control("POST", "/tokens", ["mailbox": AppOnlyFixture.owner])["accessToken"] as? String)
            #expect(try await fixture.subscribe(token: owner, resource: "users/\(AppOnlyFixture.shared)/messages") == 403)

            let started = try await server.request("POST", "/v1/connections/\(view.id)/backfill", json: #"{"range": "all"}"#)
            #expect(started.status == 200, "\(started.text)")
            let done = try await server.wait(for: view.id, timeout: .seconds(30), "the backfill to complete") {
                $0.backfill?.state == .completed || $0.backfill?.state == .failed
            }
            let backfill = try #require(done.backfill)
            #expect(backfill.state == .completed, "\(String(describing: done.error))")
            let expected = try await fixture.expected(AppOnlyFixture.shared, start: backfill.windowStart, end: backfill.windowEnd)
            #expect(expected.count > 50)
            #expect(try await fixture.store.providerMessageIds(connectionId: view.id) == expected)
            #expect(backfill.pulled == expected.count)

            // New mail: the simulator notifies the app's subscription, the webhook marks the mailbox, a worker catches up.
            let injected = try #require(try await fixture.control("POST", "/mailboxes/\(AppOnlyFixture.shared)/inject",
                                                                  ["folder": "inbox", "count": 2])["ids"] as? [String])
            try await fixture.eventually("the pushed mail stored") {
                try await fixture.store.providerMessageIds(connectionId: view.id).isSuperset(of: injected)
            }
            #expect(try await fixture.control("GET", "/app")["tokenGrants"] as? Int == 1)
            // After the app token expires, Graph refuses it (401) and a new one is requested.
            _ = try await fixture.control("POST", "/clock/advance", ["seconds": 3700])
            let later = try #require(try await fixture.control("POST", "/mailboxes/\(AppOnlyFixture.shared)/inject", ["folder": "inbox"])["ids"] as? [String])
            try await fixture.eventually("mail after the token's expiry stored") {
                try await fixture.store.providerMessageIds(connectionId: view.id).isSuperset(of: later)
            }
            // One grant served every request until then (cached per tenant), and one more after the refusal.
            #expect(try await fixture.control("GET", "/app")["tokenGrants"] as? Int == 2)
            let final = try await server.connection(view.id)
            #expect(final.health == .healthy)
            #expect(final.error == nil)
        }
    }

    @Test("a personal mailbox connected app-only stands alone, is read by /users with the app token and gets push too")
    func personalMailbox() async throws {
        try await AppOnlyFixture.with { fixture in
            let view = try fixture.decodeCreated(try await fixture.connectApp(AppOnlyFixture.owner))
            #expect(view.auth == .app && view.parentId == nil)
            #expect(try await fixture.server.connection(view.id).realtime?.mode == .push)
            let listed = try await fixture.server.request("GET", "/v1/connections").decode(ConnectionList.self).connections
            #expect(listed.map(\.auth) == [.app])
            _ = try await fixture.server.request("POST", "/v1/connections/\(view.id)/backfill", json: #"{"range": "90d"}"#)
            let done = try await fixture.server.wait(for: view.id, timeout: .seconds(30), "the backfill to end") {
                $0.backfill?.state == .completed || $0.backfill?.state == .failed
            }
            let backfill = try #require(done.backfill)
            #expect(backfill.state == .completed)
            let expected = try await fixture.expected(AppOnlyFixture.owner, start: backfill.windowStart, end: backfill.windowEnd)
            #expect(try await fixture.store.providerMessageIds(connectionId: view.id) == expected)
        }
    }

    @Test("a wrong client secret fails the mailbox with permission_lost: an administrator must act")
    func wrongSecret() async throws {
        try await AppOnlyFixture.with(clientSecret: "not-the-secret") { fixture in
            let view = try fixture.decodeCreated(try await fixture.connectApp(AppOnlyFixture.shared))
            #expect(try await fixture.server.connection(view.id).realtime?.mode == .poll, "no subscription without a token")
            _ = try await fixture.server.request("POST", "/v1/connections/\(view.id)/backfill", json: #"{"range": "30d"}"#)
            let failed = try await fixture.server.wait(for: view.id, timeout: .seconds(20), "the backfill to fail") {
                $0.backfill?.state == .failed
            }
            #expect(failed.backfill?.error?.code == .permissionLost)
            #expect(failed.health == .error)
            #expect(failed.error?.code == .permissionLost)
            #expect(failed.error?.message.contains("invalid_client") == true, "\(failed.error?.message ?? "")")
            #expect(failed.error?.message.contains("not-the-secret") == false)
        }
    }

    @Test("revoked admin consent: the next call is refused 403 and the mailbox shows permission_lost; a reconnect after consent is restored catches up")
    func revokedConsent() async throws {
        try await AppOnlyFixture.with { fixture in
            let view = try fixture.decodeCreated(try await fixture.connectApp(AppOnlyFixture.shared))
            _ = try await fixture.server.request("POST", "/v1/connections/\(view.id)/backfill", json: #"{"range": "30d"}"#)
            try await fixture.server.wait(for: view.id, timeout: .seconds(30), "the backfill to complete") { $0.backfill?.state == .completed }
            _ = try await fixture.control("POST", "/app/revoke-consent")
            let injected = try #require(try await fixture.control("POST", "/mailboxes/\(AppOnlyFixture.shared)/inject", ["folder": "inbox"])["ids"] as? [String])
            let broken = try await fixture.server.wait(for: view.id, timeout: .seconds(20), "the catch-up to be refused") { $0.health == .error }
            #expect(broken.error?.code == .permissionLost)
            #expect(broken.error?.message.contains("403 ErrorAccessDenied") == true, "\(broken.error?.message ?? "")")
            #expect(try await fixture.store.providerMessageIds(connectionId: view.id).isDisjoint(with: injected))

            _ = try await fixture.control("POST", "/app/restore-consent")
            let again = try await fixture.connectApp(AppOnlyFixture.shared)
            #expect(again.status == 200)
            try await fixture.eventually("the mail from the outage stored") {
                try await fixture.store.providerMessageIds(connectionId: view.id).isSuperset(of: injected)
            }
            #expect(try await fixture.server.connection(view.id).health == .healthy)
        }
    }

    @Test("auth app refuses tokens, expiresAt, a parent, Gmail and unknown kinds; a delegated shared mailbox cannot borrow from an app-only one")
    func refusedShapes() async throws {
        try await AppOnlyFixture.with { fixture in
            let server = fixture.server
            let owner = try fixture.decodeCreated(try await fixture.connectApp(AppOnlyFixture.owner))
            let refusals: [(String, String)] = [
                (#"{"provider": "graph", "address": "x@contoso.example", "auth": "app", "accessToken": "a", "refreshToken": "r"}"#, "accessToken"),
                (#"{"provider": "graph", "address": "x@contoso.example", "auth": "app", "refreshToken": "r"}"#, "refreshToken"),
                (#"{"provider": "graph", "address": "x@contoso.example", "auth": "app", "expiresAt": null}"#, "expiresAt"),
                (#"{"provider": "graph", "address": "x@contoso.example", "auth": "app", "parentId": "\#(owner.id)"}"#, "parentId"),
                (#"{"provider": "gmail", "address": "x@example.net", "auth": "app"}"#, "auth"),
                (#"{"provider": "graph", "address": "x@contoso.example", "auth": "application"}"#, "auth"),
                (#"{"provider": "graph", "address": "x@contoso.example", "accessToken": "a", "refreshToken": "r", "parentId": "\#(owner.id)"}"#, "parentId"),
            ]
            for (json, field) in refusals {
                let reply = try await server.request("POST", "/v1/connections", json: json)
                #expect(reply.status == 400, "\(json)")
                #expect(try reply.error().code == "invalid_field", "\(json)")
                #expect(try reply.error().message.contains("'\(field)'"), "\(json): \(reply.text)")
            }
            // A null or empty parentId means none, as for delegated connections; "auth": "delegated" is the default.
            let plain = try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "y@contoso.example", "auth": "app", "parentId": null}"#)
            #expect(plain.status == 201)
            let delegated = try fixture.decodeCreated(try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "z@contoso.example", "auth": "delegated", "accessToken": "a", "refreshToken": "r"}"#))
            #expect(delegated.auth == .delegated)

            // A mailbox lending its token to shared mailboxes must see them move to the app first.
            let child = try fixture.decodeCreated(try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "team@contoso.example", "accessToken": "a", "refreshToken": "r", "parentId": "\#(delegated.id)"}"#))
            let lender = try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "z@contoso.example", "auth": "app"}"#)
            #expect(lender.status == 409)
            #expect(try lender.error().code == "has_shared_mailboxes")
            let moved = try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "team@contoso.example", "auth": "app"}"#)
            #expect(moved.status == 200)
            let movedView = try moved.decode(ConnectionView.self)
            #expect(movedView.id == child.id && movedView.auth == .app && movedView.parentId == nil)
            #expect(try await server.directory.credentials(for: child.id) == nil)
            #expect(try await server.directory.children(of: delegated.id).isEmpty)
            let switched = try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "z@contoso.example", "auth": "app"}"#)
            #expect(switched.status == 200)
            #expect(try switched.decode(ConnectionView.self).auth == .app)
        }
    }

    @Test("without the app's configuration the API answers 409 saying what to set")
    func notConfigured() async throws {
        try await ServerHarness.with { server in
            let reply = try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "support@acme.com", "auth": "app"}"#)
            #expect(reply.status == 409)
            #expect(try reply.error().code == "app_auth_not_configured")
            #expect(try reply.error().message.contains("BACKFILL_GRAPH_APP_TENANT"))
            #expect(try await server.directory.connectionId(provider: .graph, address: "support@acme.com") == nil)
            // The delegated shape is unchanged, and its view says so.
            #expect(try await server.connect("graph", "support@acme.com").auth == .delegated)
        }
    }

    @Test("serve refuses app-only settings that cannot work before starting")
    func serveValidation() async throws {
        let base = ["serve", "--listen", "127.0.0.1:0", "--secret-key", "0123456789abcdef0123"]
        let cases: [([String], String)] = [
            (["--graph-app-tenant", "common", "--graph-client-id", "c", "--graph-client-secret", "s"], "BACKFILL_GRAPH_APP_TENANT"),
            (["--graph-app-tenant", "contoso.onmicrosoft.com"], "client id and secret"),
            (["--graph-app-tenant", "contoso.onmicrosoft.com", "--graph-app-client-id", "c", "--graph-client-secret", "s"], "go together"),
            (["--graph-app-client-id", "c", "--graph-app-client-secret", "s"], "need --graph-app-tenant"),
        ]
        for (flags, message) in cases {
            let run = try await CLITests.run(base + flags, url: nil)
            #expect(run.status == 2, "\(flags)")
            #expect(run.error.contains(message), "\(flags): \(run.error)")
            #expect(!run.error.contains("--graph-app-client-secret s") && !run.error.contains("'s'"), "the secret is never echoed")
        }
    }
}

/// A Backfill instance with workers and push channels whose Graph provider holds the app's client credentials
/// (the simulator's tenant and client), on a port known up front so the simulator can deliver its notifications.
struct AppOnlyFixture: Sendable {
    static let owner = "ada@contoso.example"
    static let shared = "support@contoso.example"
    static let clientSecret = "app-secret-1"

    let server: ServerHarness
    let sim: SimulatorServer
    let store: SQLiteMessageStore
    let http: HTTPClient

    static func with(clientSecret secret: String = clientSecret, _ body: @Sendable (AppOnlyFixture) async throws -> Void) async throws {
        guard let redisURL = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"] else {
            throw TestSetupError("BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test, which starts a redis-server")
        }
        var scenario = Scenario(seed: 23, mailboxes: [
            MailboxSpec(provider: .graph, address: owner, messageCount: 160),
            MailboxSpec(provider: .graph, address: shared, kind: .shared, owner: owner, messageCount: 140),
        ])
        scenario.graphClientSecret = clientSecret
        let sim = try await SimulatorServer.start(scenario: scenario)
        let http = HTTPClient()
        let prefix = "app\(UUID().uuidString.prefix(8).lowercased())"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backfill-apponly-\(prefix)")
        var logger = Logger(label: "test.apponly")
        logger.logLevel = .error
        let redis = RedisClient(configuration: try RedisConfiguration(url: redisURL), logger: logger)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let store = try SQLiteMessageStore(path: directory.appendingPathComponent("messages.sqlite").path)
            let port = try PrivateRedisServer.freePort()
            var serverSettings = ServerConfiguration(listen: ListenAddress(host: "127.0.0.1", port: port))
            serverSettings.eventPollInterval = .milliseconds(50)
            var scheduler = SchedulerConfiguration(instanceId: "test-\(prefix)")
            scheduler.keyPrefix = prefix
            scheduler.idleWait = .milliseconds(200)
            scheduler.auditPeriod = .milliseconds(200)
            scheduler.catchUpRetryDelay = .milliseconds(200)
            scheduler.retryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
            let endpoints = ProviderEndpoints(
                graphBaseURL: sim.graphBaseURL, msLoginBaseURL: sim.microsoftLoginBaseURL, msTenant: scenario.tenantID,
                msClientId: scenario.graphClientID, msClientSecret: clientSecret, gmailBaseURL: sim.gmailBaseURL,
                googleOAuthBaseURL: sim.googleOAuthBaseURL,
                msApp: .init(tenant: scenario.tenantID, clientId: scenario.graphClientID, clientSecret: secret)
            )
            let registry = PrometheusCollectorRegistry()
            let app = try BackfillApp(
                configuration: BackfillAppConfiguration(
                    server: serverSettings, scheduler: scheduler,
                    pushChannels: PushChannelSettings(publicURL: "http://127.0.0.1:\(port)", gmailTopic: ""), graphAppOnly: true
                ),
                redis: redis, store: store, sealer: TestSealer(), readiness: .store(store, directory: directory), metrics: registry,
                logger: logger,
                provider: { environment in
                    ProviderRouter(endpoints: endpoints, directory: environment.directory, http: http, admission: environment.admission)
                }
            )
            let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
            let group = ServiceGroup(configuration: .init(
                services: app.services(onListening: { address in portSink.yield(address.port) }), logger: logger
            ))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                guard await iterator.next() != nil else { throw TestSetupError("the server did not start") }
                let harness = ServerHarness(app: app, port: port, registry: registry, http: HTTPClient(), token: nil, redisURL: redisURL,
                                            dataDirectory: directory)
                var failure: (any Error)?
                do {
                    try await body(AppOnlyFixture(server: harness, sim: sim, store: store, http: http))
                } catch {
                    failure = error
                }
                await group.triggerGracefulShutdown()
                await harness.http.shutdown()
                try await tasks.waitForAll()
                if let failure { throw failure }
            }
        } catch {
            await redis.close()
            await http.shutdown()
            await sim.stop()
            throw error
        }
        await redis.close()
        await http.shutdown()
        await sim.stop()
    }

    func connectApp(_ address: String) async throws -> ServerHarness.Reply {
        try await server.request("POST", "/v1/connections", json: #"{"provider": "graph", "address": "\#(address)", "auth": "app"}"#)
    }

    func decodeCreated(_ reply: ServerHarness.Reply) throws -> ConnectionView {
        guard reply.status == 201 || reply.status == 200 else { throw TestSetupError("connect answered \(reply.status): \(reply.text)") }
        return try reply.decode(ConnectionView.self)
    }

    /// Graph's live subscriptions, as an app token lists them.
    func simulatorSubscriptions() async throws -> [[String: Any]] {
        let token = try #require(try await control("POST", "/tokens", ["app": true])["accessToken"] as? String)
        let reply = try await http.send(HTTPRequest(method: "GET", url: sim.graphBaseURL + "/subscriptions",
                                                    headers: ["Authorization": "Bearer \(token)"]))
        let object = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        return object["value"] as? [[String: Any]] ?? []
    }

    /// The status Graph answers a subscription request made with `token`.
    func subscribe(token: String, resource: String) async throws -> Int {
        let request: [String: Any] = [
            "changeType": "created", "notificationUrl": sim.controlBaseURL + "/sink/test", "resource": resource,
            "clientState": "x", "expirationDateTime": ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400)),
        ]
        return try await http.send(HTTPRequest(
            method: "POST", url: sim.graphBaseURL + "/subscriptions",
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: request)
        )).status
    }

    func expected(_ address: String, start: Date, end: Date) async throws -> Set<String> {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func text(_ date: Date) -> String { formatter.string(from: date).replacingOccurrences(of: "+", with: "%2B") }
        let object = try await control("GET", "/mailboxes/\(address)/expected?start=\(text(start))&end=\(text(end))")
        return Set(try #require(object["ids"] as? [String]))
    }

    func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("timed out after \(timeout): \(what)")
    }

    @discardableResult
    func control(_ method: String, _ path: String, _ json: [String: Any]? = nil) async throws -> [String: Any] {
        let reply = try await http.send(HTTPRequest(
            method: method, url: sim.controlBaseURL + path, headers: json == nil ? [:] : ["Content-Type": "application/json"],
            body: try json.map { try JSONSerialization.data(withJSONObject: $0) }
        ))
        guard (200..<300).contains(reply.status) else {
            throw TestSetupError("\(method) \(path) answered \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
        }
        guard !reply.body.isEmpty else { return [:] }
        return try JSONSerialization.jsonObject(with: reply.body) as? [String: Any] ?? [:]
    }
}
