import BackfillRedis
import BackfillTestSupport
import Foundation
import Testing

/// The client's "known down" state and fail-fast commands: callers that must answer at once hear about an
/// outage within milliseconds, while ordinary callers (workers) still wait for the reconnect.
@Suite("Redis known down and fail-fast commands")
struct RedisKnownDownTests {
    @Test("a failed connect marks the server known down; fail-fast commands fail at once, ordinary ones wait for the restart")
    func knownDownAndFailFast() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let client = try TestRedis.client(url: server.url, poolSize: 2, commandTimeout: .seconds(5))
        #expect(try await client.send(["PING"]) == .status("PONG"))
        #expect(!client.isKnownDown)

        try await server.stop()
        let clock = ContinuousClock()
        // Each fail-fast command fails at once, whether it makes the connect attempt that is due or finds the
        // server known down. After 400 ms the backoff has grown to 400 ms, so the state holds for the checks.
        let until = clock.now + .milliseconds(400)
        while clock.now < until {
            let started = clock.now
            let error = try await #require(throws: RedisError.self) {
                try await RedisClient.failingFast { try await client.send(["PING"]) }
            }
            #expect(error.code == .connection)
            #expect(clock.now - started < .milliseconds(500), "a fail-fast command took \(clock.now - started)")
            try await Task.sleep(for: .milliseconds(10))
        }
        // Known down lapses for a moment whenever an attempt falls due; on a busy machine the attempts drift
        // and one may just be due at 400 ms, so keep failing fast until the next attempt has failed.
        let settle = clock.now + .seconds(2)
        while !client.isKnownDown && clock.now < settle {
            _ = try? await RedisClient.failingFast { try await client.send(["PING"]) }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(client.isKnownDown)
        // Known down: a fail-fast command fails without a round trip, a pipeline too.
        let again = try await #require(throws: RedisError.self) {
            try await RedisClient.failingFast { try await client.pipeline([["PING"], ["PING"]]) }
        }
        #expect(again.code == .connection)
        #expect(again.message.hasPrefix("Redis is unreachable"))

        // An ordinary command sent while the server is down waits for it and succeeds.
        async let waited = client.send(["PING"])
        try await server.start()
        #expect(try await waited == .status("PONG"))
        #expect(!client.isKnownDown)
        #expect(try await RedisClient.failingFast { try await client.send(["PING"]) } == .status("PONG"))
        await client.close()
        try await server.stop()
    }

    @Test("known down lapses at the backoff: fail-fast callers alone notice the server's return")
    func failFastCallersSeeRecovery() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let client = try TestRedis.client(url: server.url, poolSize: 1, commandTimeout: .seconds(5))
        #expect(try await client.send(["PING"]) == .status("PONG"))
        try await server.stop()
        // Long enough for the backoff to grow to its cap.
        let downUntil = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < downUntil {
            await #expect(throws: RedisError.self) { try await RedisClient.failingFast { try await client.send(["PING"]) } }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await server.start()
        // No other traffic: only the fail-fast commands make the connect attempts, at most a second apart.
        let deadline = ContinuousClock.now + .seconds(3)
        var answered = false
        while !answered && ContinuousClock.now < deadline {
            answered = (try? await RedisClient.failingFast { try await client.send(["PING"]) }) == .status("PONG")
            if !answered { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answered)
        #expect(!client.isKnownDown)
        await client.close()
        try await server.stop()
    }

    @Test("ping answers within its timeout from a server that accepts connections but never replies")
    func pingTimeout() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let client = try TestRedis.client(url: "redis://127.0.0.1:\(listener.port)", poolSize: 1, commandTimeout: .seconds(5))
        let clock = ContinuousClock()
        let started = clock.now
        let error = try await #require(throws: RedisError.self) { try await client.ping(timeout: .milliseconds(200)) }
        #expect(error.code == .timeout)
        #expect(clock.now - started < .seconds(1), "ping took \(clock.now - started)")
        await client.close()
    }

    @Test("ping answers PONG, and fails fast when nothing listens")
    func pingUpAndDown() async throws {
        let client = try TestRedis.client()
        #expect(try await client.ping(timeout: .milliseconds(500)) == .status("PONG"))
        await client.close()
        let server = try PrivateRedisServer()  // reserved port, never started
        let down = try TestRedis.client(url: server.url, commandTimeout: .seconds(5))
        let clock = ContinuousClock()
        let started = clock.now
        let error = try await #require(throws: RedisError.self) { try await down.ping(timeout: .seconds(3)) }
        #expect(error.code == .connection)
        #expect(clock.now - started < .milliseconds(500))
        await down.close()
    }
}
