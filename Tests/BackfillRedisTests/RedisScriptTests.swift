import BackfillRedis
import BackfillTestSupport
import Testing

@Suite("Redis scripts")
struct RedisScriptTests {
    static let increment = RedisScript(
        name: "increment-by",
        source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")

    @Test("runs a script with keys and arguments")
    func runsScript() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.prefix() + "n"
        #expect(try await client.run(Self.increment, keys: [key], arguments: ["5"]) == .integer(5))
        #expect(try await client.run(Self.increment, keys: [key], arguments: ["2"]) == .integer(7))
        await client.close()
    }

    @Test("reloads a script after SCRIPT FLUSH")
    func reloadsAfterFlush() async throws {
        // A private server, so flushing its script cache disturbs no other suite.
        let server = try PrivateRedisServer()
        try await server.start()
        let client = try TestRedis.client(url: server.url)
        let hash = try #require(try await client.send(["SCRIPT", "LOAD", Self.increment.source]).string)

        #expect(try await client.run(Self.increment, keys: ["n"], arguments: ["1"]) == .integer(1))
        #expect(try await client.send(["SCRIPT", "FLUSH"]) == .status("OK"))
        #expect(try await client.send(["SCRIPT", "EXISTS", hash]) == .array([.integer(0)]))

        #expect(try await client.run(Self.increment, keys: ["n"], arguments: ["1"]) == .integer(2))
        #expect(try await client.send(["SCRIPT", "EXISTS", hash]) == .array([.integer(1)]))
        await client.close()
        try await server.stop()
    }

    @Test("reports a script's runtime error as a server error")
    func scriptError() async throws {
        let client = try TestRedis.client()
        let failing = RedisScript(name: "failing", source: "return redis.error_reply('BUSYJOB job is leased')")
        let error = try await #require(throws: RedisError.self) {
            try await client.run(failing, keys: [], arguments: [])
        }
        #expect(error.code == .server)
        #expect(error.message == "BUSYJOB job is leased")
        await client.close()
    }

    @Test("names the script when its source does not compile")
    func compileError() async throws {
        let client = try TestRedis.client()
        let broken = RedisScript(name: "broken", source: "return (")
        let error = try await #require(throws: RedisError.self) {
            try await client.run(broken, keys: [], arguments: [])
        }
        #expect(error.code == .server)
        #expect(error.message.hasPrefix("script broken failed to load"))
        await client.close()
    }
}
