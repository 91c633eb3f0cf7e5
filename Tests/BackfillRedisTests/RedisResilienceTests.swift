import BackfillRedis
import BackfillTestSupport
import Testing

@Suite("Redis timeouts, reconnects and closing")
struct RedisResilienceTests {
    @Test("reconnects the same client after its redis-server restarts")
    func reconnectsAfterRestart() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let client = try TestRedis.client(url: server.url, poolSize: 1, commandTimeout: .milliseconds(300))
        #expect(try await client.send(["SET", "k", "before"]) == .status("OK"))

        try await server.stop()
        let down = try await #require(throws: RedisError.self) { try await client.send(["GET", "k"]) }
        #expect(down.code == .connection)

        try await server.start()
        // A fresh server without persistence: the key is gone, and the old client works again.
        #expect(try await client.send(["GET", "k"]) == .null)
        #expect(try await client.send(["SET", "k", "after"]) == .status("OK"))
        await client.close()
        try await server.stop()
    }

    @Test("a command waits out a short restart instead of failing")
    func waitsForReconnect() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let client = try TestRedis.client(url: server.url, poolSize: 1, commandTimeout: .seconds(5))
        #expect(try await client.send(["PING"]) == .status("PONG"))
        try await server.stop()
        async let reply = client.send(["PING"])
        try await server.start()
        #expect(try await reply == .status("PONG"))
        await client.close()
        try await server.stop()
    }

    @Test("a command slower than the timeout fails with timeout, and the client works afterwards")
    func commandTimeout() async throws {
        let client = try TestRedis.client(poolSize: 1, commandTimeout: .milliseconds(200))
        let key = TestRedis.prefix() + "empty"
        let clock = ContinuousClock()
        let started = clock.now
        let error = try await #require(throws: RedisError.self) { try await client.send(["BLPOP", key, "2"]) }
        #expect(error.code == .timeout)
        #expect(clock.now - started < .seconds(2))
        #expect(try await client.send(["PING"]) == .status("PONG"))
        await client.close()
    }

    @Test("a blocking command returns the value pushed while it waits")
    func blockingReceivesPush() async throws {
        let client = try TestRedis.client(commandTimeout: .milliseconds(200))
        let key = TestRedis.prefix() + "queue"
        async let popped = client.blocking(["BLPOP", key, "5"], timeout: .seconds(6))
        #expect(try await client.send(["RPUSH", key, "job-1"]) == .integer(1))
        #expect(try await popped == .array([.bulk(Array(key.utf8)), .bulk(Array("job-1".utf8))]))
        await client.close()
    }

    @Test("a blocking command returns null when its block time passes, and reuses its connection")
    func blockingTimesOutOnServer() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.prefix() + "idle"
        let first = try await client.blocking(["CLIENT", "ID"], timeout: .seconds(2))
        #expect(try await client.blocking(["BRPOP", key, "0.1"], timeout: .seconds(2)) == .null)
        let second = try await client.blocking(["CLIENT", "ID"], timeout: .seconds(2))
        #expect(first == second)
        await client.close()
    }

    @Test("a blocking command longer than its timeout fails with timeout")
    func blockingTimeout() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.prefix() + "never"
        let error = try await #require(throws: RedisError.self) {
            try await client.blocking(["BLPOP", key, "5"], timeout: .milliseconds(150))
        }
        #expect(error.code == .timeout)
        #expect(try await client.blocking(["LPUSH", key, "x"], timeout: .seconds(1)) == .integer(1))
        await client.close()
    }

    @Test("a closed client fails commands with closed")
    func closedClient() async throws {
        let client = try TestRedis.client()
        #expect(try await client.send(["PING"]) == .status("PONG"))
        await client.close()
        let error = try await #require(throws: RedisError.self) { try await client.send(["PING"]) }
        #expect(error.code == .closed)
        let blockingError = try await #require(throws: RedisError.self) {
            try await client.blocking(["BLPOP", "k", "1"], timeout: .seconds(2))
        }
        #expect(blockingError.code == .closed)
    }

    @Test("an unreachable server fails with a connection error after the timeout")
    func unreachableServer() async throws {
        let server = try PrivateRedisServer()  // reserved port, never started
        let client = try TestRedis.client(url: server.url, poolSize: 1, commandTimeout: .milliseconds(200))
        let error = try await #require(throws: RedisError.self) { try await client.send(["PING"]) }
        #expect(error.code == .connection)
        #expect(error.message.contains("127.0.0.1:\(server.port)"))
        await client.close()
    }
}
