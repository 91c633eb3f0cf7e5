@testable import BackfillScheduler
@testable import BackfillServer
import BackfillTestSupport
import Foundation
import Hummingbird
import Testing

/// While Redis is down the API says so at once (503 `redis_unavailable`, `Retry-After`) instead of a 500
/// after the command timeout, `/readyz` answers 503 within its bound, and both recover with Redis.
@Suite("Redis outage")
struct RedisOutageTests {
    /// Far below the 5 s command timeout the old behaviour waited out, with room for a slow machine.
    static let bound = Duration.milliseconds(1500)

    @Test("with Redis killed, /v1 and the OAuth routes answer 503 redis_unavailable and /readyz 503 at once; both recover")
    func failsFastWhileRedisIsDown() async throws {
        let redis = try PrivateRedisServer()
        try await redis.start()
        var options = ServerHarness.Options()
        options.redisURL = redis.url
        options.routes = { app in
            { router in router.get("oauth/probe") { _, _ in try await app.scheduler.redis.send(["PING"]).string ?? "" } }
        }
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "a@acme.com")
            #expect(try await server.request("GET", "/v1/connections").status == 200)
            #expect(try await server.request("GET", "/readyz").status == 200)

            try await redis.stop()  // SIGKILL: as a crash of Redis

            // The first request finds Redis gone; those after it see it known down. None waits.
            let requests: [(String, String)] = [
                ("GET", "/v1/connections"), ("GET", "/v1/connections"), ("GET", "/v1/connections/\(connection.id)"),
                ("POST", "/v1/connections/\(connection.id)/backfill/pause"), ("GET", "/oauth/probe"), ("GET", "/v1/connections"),
            ]
            for (method, path) in requests {
                let (reply, elapsed) = try await Self.timed { try await server.request(method, path) }
                #expect(reply.status == 503, "\(method) \(path): \(reply.status) \(reply.text)")
                #expect(try reply.error().code == "redis_unavailable", "\(method) \(path)")
                #expect(try reply.error().message.hasPrefix("Redis is unreachable; "))
                #expect(reply.headers["Retry-After"] == "1", "\(method) \(path)")
                #expect(elapsed < Self.bound, "\(method) \(path) took \(elapsed)")
            }
            let (ready, readyElapsed) = try await Self.timed { try await server.request("GET", "/readyz") }
            #expect(ready.status == 503)
            #expect(try ready.error() == .init(code: "not_ready", message: "redis: unreachable"))
            #expect(readyElapsed < Self.bound, "/readyz took \(readyElapsed)")
            // What needs no Redis still answers.
            #expect(try await server.request("GET", "/healthz").status == 200)
            #expect(try await server.request("GET", "/no-such-page").status == 404)

            try await redis.start()
            // The client reconnects within its backoff (at most 1 s); the API's own requests drive it.
            try await Self.eventually("GET /v1/connections answers 200") {
                try await server.request("GET", "/v1/connections").status == 200
            }
            try await Self.eventually("/readyz answers 200") { try await server.request("GET", "/readyz").status == 200 }
            #expect(try await server.request("GET", "/oauth/probe").text == "PONG")
        }
        try await redis.stop()
    }

    @Test("/readyz answers within its bound while Redis accepts connections but never replies")
    func readinessBoundWithSilentRedis() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        var options = ServerHarness.Options()
        options.redisURL = "redis://127.0.0.1:\(silent.port)"
        try await ServerHarness.with(options) { server in
            let (ready, elapsed) = try await Self.timed { try await server.request("GET", "/readyz") }
            #expect(ready.status == 503)
            #expect(try ready.error() == .init(code: "not_ready", message: "redis: unreachable"))
            #expect(elapsed < Self.bound, "/readyz took \(elapsed)")
        }
    }

    // MARK: Helpers

    static func timed<Value>(_ body: () async throws -> Value) async rethrows -> (Value, Duration) {
        let clock = ContinuousClock()
        let started = clock.now
        let value = try await body()
        return (value, clock.now - started)
    }

    /// Checks `condition` every 20 ms until it holds, or fails after `timeout`.
    static func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout): \(what)")
    }
}
