import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import BackfillRedis
import BackfillScheduler
import BackfillSimulator
import BackfillTestSupport
import Foundation
import Logging
import Testing

/// A Microsoft refresh rotates the refresh token; if its save is lost to a Redis restart, Redis keeps the old
/// one, which the provider no longer takes, and the connection needs a reconnect. `OAuthTokenSource` saves the
/// renewed credentials again through an outage: this runs that against a real redis-server that is killed and
/// restarted, and the simulator's token endpoint over HTTP.
@Suite("Renewed credentials saved through a Redis outage")
struct TokenSaveOutageTests {
    static let user = "ada@contoso.example"

    @Test("a rotated refresh token whose save meets Redis down is saved once Redis is back, and the next refresh works with it")
    func rotatedTokenSurvivesRestart() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let scenario = Scenario(seed: 7, mailboxes: [MailboxSpec(provider: .graph, address: Self.user, messageCount: 1)])
        let sim = try await SimulatorServer.start(scenario: scenario)
        let endpoints = ProviderEndpoints(
            msLoginBaseURL: sim.microsoftLoginBaseURL, msTenant: scenario.tenantID, msClientId: scenario.graphClientID,
            msClientSecret: "secret"
        )
        let http = HTTPClient()
        // Ordinary commands wait for a reconnect up to the command timeout; a short one stands for an outage that
        // outlasts it, so the save's first try fails instead of riding the restart out.
        let redis = RedisClient(
            configuration: try RedisConfiguration(url: server.url, poolSize: 1, commandTimeout: .milliseconds(300)),
            logger: Logger(label: "test.token-save-outage")
        )
        let scheduler = Scheduler(redis: redis, configuration: SchedulerConfiguration(instanceId: "token-save"), logger: Logger(label: "test"))
        let stored = scheduler.connectionDirectory(sealer: try TokenCipher(secret: "test secret"))
        var failure: (any Error)?
        do {
            try await Self.run(server: server, sim: sim, http: http, redis: redis, directory: stored, endpoints: endpoints)
        } catch {
            failure = error
        }
        await redis.close()
        await http.shutdown()
        await sim.stop()
        try? await server.stop()
        if let failure { throw failure }
    }

    private static func run(
        server: PrivateRedisServer, sim: SimulatorServer, http: HTTPClient, redis: RedisClient,
        directory: RedisConnectionDirectory, endpoints: ProviderEndpoints
    ) async throws {
        // A rotated-away refresh token is refused at once (Microsoft may allow a while; nothing may count on it).
        _ = try await control(http, sim, "PATCH", "knobs", ["refreshTokenGraceSeconds": 0])
        let issued = try await control(http, sim, "POST", "tokens", ["mailbox": user])
        let original = OAuthCredentials(
            accessToken: try #require(issued["accessToken"] as? String),
            refreshToken: try #require(issued["refreshToken"] as? String),
            expiresAt: Date()  // due for a refresh on the next use
        )
        let id = try await directory.connect(provider: .graph, address: user, credentials: original, parentId: nil).connection.id
        // On disk, as appendonly would have it: the restart brings back the connection with the old tokens.
        #expect(try await redis.send(["SAVE"]) == .status("OK"))

        let outage = SaveOutage(directory: directory, server: server)
        let tokens = OAuthTokenSource(
            client: .microsoft(endpoints), directory: outage, transport: ProviderTransport(http: http), clock: SystemWallClock()
        )
        let clock = ContinuousClock()
        let started = clock.now
        let refresh = Task { try await tokens.accessToken(owner: id) }
        defer { refresh.cancel() }
        // Redis comes back only once a save has failed against it, so the refresh cannot have saved on its first try.
        try await eventually("a save of the renewed credentials failed with Redis down") { await outage.failedSaves > 0 }
        try await server.start()
        let renewedAccess: String
        do {
            renewedAccess = try await refresh.value
        } catch {
            Issue.record("the refresh failed: its save did not outlast the Redis restart (\(error))")
            return
        }
        #expect(clock.now - started < .seconds(10), "the refresh took \(clock.now - started)")
        #expect(renewedAccess != original.accessToken)

        // Read back from the restarted Redis: the snapshot's connection, with the rotated refresh token saved over the old.
        #expect(try await directory.connection(id)?.address == user, "the restart did not bring back the connection")
        let saved = try #require(try await directory.credentials(for: id))
        #expect(saved.accessToken == renewedAccess)
        #expect(saved.refreshToken != original.refreshToken, "Redis still holds the rotated-away refresh token")
        // Had it kept the old one, the connection would be lost: the provider no longer takes it.
        let refused = try await http.send(HTTPRequest(
            method: "POST", url: endpoints.msTokenURL, headers: ["Content-Type": "application/x-www-form-urlencoded"],
            body: Data(FormEncoding.encode([
                ("grant_type", "refresh_token"), ("refresh_token", original.refreshToken), ("client_id", endpoints.msClientId),
            ]).utf8)
        ))
        #expect(refused.status == 400)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("invalid_grant"))

        // The next refresh, by an instance with nothing in memory, works from what Redis holds.
        let other = OAuthTokenSource(
            client: .microsoft(endpoints), directory: directory, transport: ProviderTransport(http: http), clock: SystemWallClock()
        )
        let next = try await other.tokenAfterRejection(of: renewedAccess, owner: id)
        #expect(next != renewedAccess)
        #expect(try await directory.credentials(for: id)?.refreshToken != saved.refreshToken, "the next refresh rotated again")
    }

    /// The connection directory in Redis, with Redis killed (as a crash) just before the first credentials save:
    /// the outage meets a refresh whose token request went through. Counts the saves that failed.
    private actor SaveOutage: ConnectionDirectory {
        let directory: RedisConnectionDirectory
        let server: PrivateRedisServer
        private var armed = true
        private(set) var failedSaves = 0

        init(directory: RedisConnectionDirectory, server: PrivateRedisServer) {
            self.directory = directory
            self.server = server
        }

        func updateCredentials(_ credentials: OAuthCredentials, for id: String) async throws {
            if armed {
                armed = false
                try await server.stop()
            }
            do {
                try await directory.updateCredentials(credentials, for: id)
            } catch {
                failedSaves += 1
                throw error
            }
        }

        func connection(_ id: String) async throws -> Connection? { try await directory.connection(id) }
        func credentials(for id: String) async throws -> OAuthCredentials? { try await directory.credentials(for: id) }
        func syncState(for id: String) async throws -> [String: String] { try await directory.syncState(for: id) }
        func updateSyncState(_ changes: [String: String], for id: String) async throws {
            try await directory.updateSyncState(changes, for: id)
        }
        func recordRefusal(of id: String, code: BackfillErrorCode, message: String) async throws {
            try await directory.recordRefusal(of: id, code: code, message: message)
        }
        func listSkipped(_ skipped: [SkippedMessage], for id: String) async throws {
            try await directory.listSkipped(skipped, for: id)
        }
    }

    // MARK: Helpers

    private static func control(
        _ http: HTTPClient, _ sim: SimulatorServer, _ method: String, _ path: String, _ body: [String: Any]
    ) async throws -> [String: Any] {
        let response = try await http.send(HTTPRequest(
            method: method, url: "\(sim.controlBaseURL)/\(path)", headers: ["Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: body)
        ))
        try #require((200..<300).contains(response.status), "control \(method) \(path) answered \(response.status)")
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    /// Checks `condition` every 10 ms until it holds, or fails after `timeout`.
    private static func eventually(
        _ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSetupError("timed out after \(timeout): \(what)")
    }
}
