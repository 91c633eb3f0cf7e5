import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import Foundation
import Logging
import BackfillTestSupport
import Testing

/// Properties about instances, with each instance its own process.
@Suite("Scheduler instances")
struct InstanceTests {
    @Test("a killed worker's connection is resumed by another instance from the last committed cursor")
    func crashRecovery() async throws {
        let env = try TestEnvironment()
        let id = "crash-300"
        let settings = ["HARNESS_LEASE_MS": "3000", "HARNESS_AUDIT_MS": "300", "HARNESS_PAGE_DELAY_MS": "80"]
        let a = try HarnessProcess(name: "a", redisURL: env.url, prefix: env.prefix, settings: settings)
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last90Days)
        try await env.eventually("instance a has pulled pages") { try await env.record(id).pulled >= 50 }
        let b = try HarnessProcess(name: "b", redisURL: env.url, prefix: env.prefix, settings: settings)
        a.kill()
        let killedAt = Int64(Date().timeIntervalSince1970 * 1000)
        let committed = try await env.record(id)
        try await env.eventually("completed by b", timeout: .seconds(20)) { try await env.record(id).state == .completed }
        let fetches = try await env.fetches(id)
        let firstOfB = try #require(fetches.first { $0.instance == "b" })
        #expect(firstOfB.offset == Int(committed.cursor ?? "0"))
        #expect(firstOfB.at - killedAt <= 3000 + 300 + 1500, "resumed \(firstOfB.at - killedAt) ms after the kill")
        let record = try await env.record(id)
        #expect(record.pulled == 300)
        #expect(try await env.stored(id) == env.expectedIds(id))
        #expect(try await env.scheduler.stats()["leaseRecoveries"] ?? 0 >= 1)
        #expect(b.terminate() == 0)
    }

    @Test("SIGTERM releases the lease: another instance takes over at once, not after lease expiry")
    func gracefulHandover() async throws {
        let env = try TestEnvironment()
        let id = "handover-400"
        let settings = ["HARNESS_LEASE_MS": "30000", "HARNESS_AUDIT_MS": "30000", "HARNESS_PAGE_DELAY_MS": "50"]
        let a = try HarnessProcess(name: "a", redisURL: env.url, prefix: env.prefix, settings: settings)
        _ = try await env.scheduler.startBackfill(connectionId: id, range: .last90Days)
        try await env.eventually("instance a has pulled pages") { try await env.record(id).pulled >= 50 }
        let b = try HarnessProcess(name: "b", redisURL: env.url, prefix: env.prefix, settings: settings)
        let termAt = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(a.terminate() == 0)
        try await env.eventually("completed by b", timeout: .seconds(20)) { try await env.record(id).state == .completed }
        let firstOfB = try #require(try await env.fetches(id).first { $0.instance == "b" })
        #expect(firstOfB.at - termAt < 3000, "took over \(firstOfB.at - termAt) ms after SIGTERM")
        #expect(try await env.record(id).pulled == 400)
        #expect(try await env.fetches(id).map(\.offset) == Array(stride(from: 0, to: 400, by: 10)))
        #expect(try await env.scheduler.stats()["staleCommits"] == nil)
        #expect(b.terminate() == 0)
    }

    @Test("with three instances each tick id runs exactly once")
    func tickOnce() async throws {
        let env = try TestEnvironment()
        let settings = ["HARNESS_TICK_MS": "500"]
        let instances = try (0..<3).map { try HarnessProcess(name: "i\($0)", redisURL: env.url, prefix: env.prefix, settings: settings) }
        try await env.eventually("five ticks ran") {
            try await env.redis.send(["LLEN", env.scheduler.keys.tickLog]).int ?? 0 >= 5
        }
        for instance in instances { #expect(instance.terminate() == 0) }
        let log = try await env.redis.send(["LRANGE", env.scheduler.keys.tickLog, "0", "-1"]).strings
        let tickIds = log.compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        #expect(tickIds.count == log.count)
        #expect(Set(tickIds).count == tickIds.count, "a tick id ran twice: \(log)")
        #expect(tickIds == tickIds.sorted(by: >))
        #expect(try await env.scheduler.stats()["ticks"] == tickIds.count)
    }

    @Test("after downtime one catch-up tick runs, not one per missed period")
    func catchUpTick() async throws {
        let env = try TestEnvironment { $0.tickPeriod = .milliseconds(100) }
        let tick = PeriodicTick(scheduler: env.scheduler, logger: Logger(label: "test.tick"))
        #expect(try await tick.claim(5))
        // Fifty periods later: the current id runs once; the missed ones are never claimed.
        #expect(try await tick.claim(55))
        #expect(try await !tick.claim(55))
        #expect(try await !tick.claim(30))
        #expect(try await env.scheduler.stats()["ticks"] == 2)
    }

    @Test("the tick nudges unfinished backfills and flags stalled ones")
    func tickSweep() async throws {
        let env = try TestEnvironment { $0.stallAfter = .seconds(300) }
        for id in ["sweep-a-10", "sweep-b-10", "sweep-c-10"] {
            _ = try await env.scheduler.startBackfill(connectionId: id, range: .last30Days)
        }
        _ = try await env.scheduler.apply(.pause, connectionId: "sweep-b-10")
        _ = try await env.redis.send(["HSET", env.scheduler.keys.backfill("sweep-c-10"), "state", "running", "lastProgressAt", "1000"])
        _ = try await env.redis.send(["DEL", env.scheduler.keys.nudges, env.scheduler.keys.nudged])
        let tick = PeriodicTick(scheduler: env.scheduler, logger: Logger(label: "test.tick"))
        try await tick.runTick(1, now: Int64(Date().timeIntervalSince1970 * 1000))
        let queued = Set(try await env.redis.send(["LRANGE", env.scheduler.keys.nudges, "0", "-1"]).strings)
        #expect(queued == ["sweep-a-10", "sweep-c-10"])
        #expect(try await env.record("sweep-c-10").stalled)
        #expect(try await !env.record("sweep-a-10").stalled)
    }

    @Test("an idle instance sends at most a few Redis commands per second")
    func idleCost() async throws {
        let server = try PrivateRedisServer()
        try await server.start()
        let settings = ["HARNESS_IDLE_WAIT_MS": "2000", "HARNESS_AUDIT_MS": "10000"]
        let instance = try HarnessProcess(name: "idle", redisURL: server.url, prefix: "idle", settings: settings)
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), logger: Logger(label: "test.idle"))
        try await Task.sleep(for: .seconds(1))  // let start-up traffic (first tick, script loads) pass
        // What an idle instance sends: EVALSHA (promoter, auditor), BLPOP (dispatcher, promoter), XREAD (the event
        // relay) and, once, SCRIPT LOAD and XRANGE. Commands that scripts run inside Redis are not round trips and are
        // not counted.
        func calls() async throws -> Int {
            let info = try await redis.send(["INFO", "commandstats"]).string ?? ""
            return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
                guard ["cmdstat_evalsha:", "cmdstat_blpop:", "cmdstat_script|load:", "cmdstat_xread:", "cmdstat_xrange:"].contains(where: line.hasPrefix),
                      let range = line.range(of: "calls=") else { return total }
                return total + (Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0)
            }
        }
        let before = try await calls()
        try await Task.sleep(for: .seconds(6))
        let after = try await calls()
        #expect(instance.terminate() == 0)
        let perSecond = Double(after - before) / 6
        #expect(perSecond <= 2, "idle instance sent \(perSecond) commands per second")
        await redis.close()
    }
}
