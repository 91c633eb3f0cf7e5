import BackfillRedis
import Testing

@Suite("Redis pipelining")
struct RedisPipelineTests {
    @Test("returns every reply of a pipeline in order")
    func repliesInOrder() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.prefix() + "counter"
        let replies = try await client.pipeline(Array(repeating: ["INCR", key], count: 100) + [["GET", key]])
        await client.close()
        #expect(replies.count == 101)
        #expect(replies.prefix(100) == ArraySlice((1...100).map { RedisReply.integer($0) }))
        #expect(replies.last == .bulk(Array("100".utf8)))
    }

    @Test("returns error replies inline without failing the other commands")
    func errorsInline() async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.prefix()
        let replies = try await client.pipeline([
            ["SET", prefix + "a", "1"], ["NOSUCHCOMMAND"], ["INCR", prefix + "a"], ["GET", prefix + "missing"],
        ])
        await client.close()
        #expect(replies.count == 4)
        #expect(replies[0] == .status("OK"))
        guard case .error(let message) = replies[1] else {
            Issue.record("expected an error reply, got \(replies[1])")
            return
        }
        #expect(message.hasPrefix("ERR unknown command"))
        #expect(replies[2] == .integer(2))
        #expect(replies[3] == .null)
    }

    @Test("keeps replies apart for many concurrent callers on a small pool")
    func concurrentCallers() async throws {
        let client = try TestRedis.client(poolSize: 2)
        let prefix = TestRedis.prefix()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<50 {
                group.addTask {
                    let key = prefix + String(caller)
                    let replies = try await client.pipeline([["SET", key, String(caller)], ["GET", key]])
                    #expect(replies == [.status("OK"), .bulk(Array(String(caller).utf8))])
                    #expect(try await client.send(["INCR", prefix + "total"]).int != nil)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await client.send(["GET", prefix + "total"]).int == 50)
        await client.close()
    }

    @Test("runs sequential commands from a task on the client's executor")
    func sequentialOnExecutor() async throws {
        let client = try TestRedis.client()
        let key = TestRedis.prefix() + "counter"
        let replies = try await withTaskExecutorPreference(client.executor) {
            var replies: [RedisReply] = []
            for _ in 0..<20 { replies.append(try await client.send(["INCR", key])) }
            return replies
        }
        #expect(replies == (1...20).map { RedisReply.integer($0) })
        await client.close()
    }

    @Test("a sequential caller keeps using one connection of the pool, whose thread is awake")
    func sequentialCallerKeepsItsConnection() async throws {
        let client = try TestRedis.client(poolSize: 4)
        var ids: Set<RedisReply> = []
        for _ in 0..<300 { ids.insert(try await client.send(["CLIENT", "ID"])) }
        #expect(ids.count == 1, "a sequential caller used \(ids.count) connections")
        await client.close()
    }

    @Test("a transaction returns its commands' replies in order; one Redis refuses to queue fails the whole and runs none")
    func transaction() async throws {
        let client = try TestRedis.client()
        let prefix = TestRedis.prefix()
        let replies = try await client.transaction([["SET", prefix + "a", "1"], ["INCR", prefix + "a"], ["HGETALL", prefix + "none"]])
        #expect(replies == [.status("OK"), .integer(2), .array([])])
        await #expect { try await client.transaction([["INCR", prefix + "a"], ["GET"]]) } throws: { error in
            (error as? RedisError)?.code == .server && "\(error)".contains("EXECABORT")
        }
        #expect(try await client.send(["GET", prefix + "a"]) == .bulk(Array("2".utf8)), "the aborted transaction ran nothing")
        #expect(try await client.transaction([]) == [])
        await client.close()
    }

    @Test("an empty pipeline returns no replies")
    func emptyPipeline() async throws {
        let client = try TestRedis.client()
        #expect(try await client.pipeline([]) == [])
        await client.close()
    }
}
