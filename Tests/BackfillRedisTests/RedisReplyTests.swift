import BackfillRedis
import Testing

@Suite("Redis replies")
struct RedisReplyTests {
    @Test("accessors read strings, integers, arrays and null")
    func accessors() {
        #expect(RedisReply.status("OK").string == "OK")
        #expect(RedisReply.bulk(Array("42".utf8)).int == 42)
        #expect(RedisReply.integer(7).int == 7)
        #expect(RedisReply.integer(7).string == nil)
        #expect(RedisReply.bulk(Array("x".utf8)).int == nil)
        #expect(RedisReply.array([.null]).array == [.null])
        #expect(RedisReply.null.isNull)
        #expect(!RedisReply.bulk([]).isNull)
        #expect(RedisReply.error("ERR x").string == nil)
    }

    @Test("decodes nested arrays, integers, statuses and nil from the server")
    func decodesNestedArrays() async throws {
        let client = try TestRedis.client()
        let reply = try await client.send([
            "EVAL", "return {1, {'two', {3, 'four'}}, redis.status_reply('FINE'), false, 'end'}", "0",
        ])
        await client.close()
        // Lua's false becomes a nil bulk; the array stops at no element because false is not nil in Lua.
        #expect(
            reply
                == .array([
                    .integer(1), .array([.bulk(Array("two".utf8)), .array([.integer(3), .bulk(Array("four".utf8))])]),
                    .status("FINE"), .null, .bulk(Array("end".utf8)),
                ]))
    }

    @Test("reads a missing key as null")
    func decodesNil() async throws {
        let client = try TestRedis.client()
        let reply = try await client.send(["GET", TestRedis.prefix() + "missing"])
        await client.close()
        #expect(reply == .null)
    }

    @Test("round-trips binary values with NUL bytes")
    func binaryValues() async throws {
        let client = try TestRedis.client()
        let key = Array((TestRedis.prefix() + "binary").utf8)
        let value: [UInt8] = [0, 1, 0, 255, 13, 10, 0]
        #expect(try await client.send(bytes: [Array("SET".utf8), key, value]) == .status("OK"))
        #expect(try await client.send(bytes: [Array("GET".utf8), key]) == .bulk(value))
        #expect(try await client.send(bytes: [Array("STRLEN".utf8), key]) == .integer(7))
        await client.close()
    }

    @Test("sends empty, multi-byte, large and many arguments intact, in one pipeline and after it")
    func encodesArguments() async throws {
        let client = try TestRedis.client(poolSize: 1)
        let prefix = TestRedis.prefix()
        let large = String(repeating: "é€x", count: 20_000)  // 120,000 bytes: past the reused buffer
        let fields = (0..<12).flatMap { ["f\($0)", $0 == 5 ? "" : "välue-\($0)-🙂"] }
        let replies = try await client.pipeline([
            ["SET", prefix + "empty", ""], ["SET", prefix + "large", large], ["HSET", prefix + "hash"] + fields,
            ["STRLEN", prefix + "empty"], ["GET", prefix + "large"], ["HGET", prefix + "hash", "f11"],
        ])
        #expect(replies.prefix(3) == [.status("OK"), .status("OK"), .integer(12)])
        #expect(replies[3] == .integer(0))
        #expect(replies[4] == .bulk(Array(large.utf8)))
        #expect(replies[5] == .bulk(Array("välue-11-🙂".utf8)))
        #expect(try await client.send(["HGET", prefix + "hash", "f5"]) == .bulk([]))
        #expect(try await client.send(["STRLEN", prefix + "large"]) == .integer(large.utf8.count))
        await client.close()
    }

    @Test("throws a server error for an error reply and stays usable")
    func errorReplyThrows() async throws {
        let client = try TestRedis.client(poolSize: 1)
        let key = TestRedis.prefix() + "list"
        _ = try await client.send(["RPUSH", key, "a"])
        let error = try await #require(throws: RedisError.self) { try await client.send(["INCR", key]) }
        #expect(error.code == .server)
        #expect(error.message.hasPrefix("WRONGTYPE"))
        #expect(try await client.send(["LLEN", key]) == .integer(1))
        await client.close()
    }
}
