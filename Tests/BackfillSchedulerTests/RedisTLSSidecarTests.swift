import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import BackfillTestSupport
import Foundation
import Logging
import Testing

/// Redis over TLS through the sidecar (ops/stunnel/backfill-redis.conf): a TLS-only redis-server, stunnel running
/// the shipped config in front of it, both started by ops/redis-tls-private (ops/test does). The service's client
/// does real work through the sidecar; pointed at the TLS port itself, or through a sidecar that checks for another
/// host name, it gets nothing done and says so with a connection error.
@Suite("Redis over TLS through the sidecar")
struct RedisTLSSidecarTests {
    /// `SIDECAR_PORT TLS_PORT WRONG_HOST_PORT` as ops/redis-tls-private printed them.
    struct Ports {
        var sidecar: Int
        var tls: Int
        var wrongHost: Int

        init() throws {
            let name = "BACKFILL_TEST_REDIS_TLS_PORTS"
            let words = (ProcessInfo.processInfo.environment[name] ?? "").split(separator: " ").compactMap { Int($0) }
            guard words.count >= 3 else {
                throw TestSetupError("\(name) is not set: run the tests with ops/test, which starts ops/redis-tls-private")
            }
            (sidecar, tls, wrongHost) = (words[0], words[1], words[2])
        }
    }

    static func client(port: Int, commandTimeout: Duration = .seconds(5)) throws -> RedisClient {
        RedisClient(
            configuration: try RedisConfiguration(
                url: "redis://127.0.0.1:\(port)", poolSize: 1, commandTimeout: commandTimeout, connectTimeout: .seconds(1)),
            logger: Logger(label: "test.tls")
        )
    }

    @Test("through the sidecar the client sets and reads values, pipelines, and runs the scheduler's scripts")
    func workThroughSidecar() async throws {
        let ports = try Ports()
        let redis = try Self.client(port: ports.sidecar)
        let prefix = "tls\(UUID().uuidString.prefix(8).lowercased())"
        let value = String(repeating: "é-backfill-", count: 2000)  // multi-byte, several TLS records long
        #expect(try await redis.send(["SET", "\(prefix):k", value]) == .status("OK"))
        #expect(try await redis.send(["GET", "\(prefix):k"]).string == value)
        let replies = try await redis.pipeline((0..<16).map { _ in ["INCR", "\(prefix):n"] })
        #expect(replies.map { $0.int } == (1...16).map { Optional($0) })
        var configuration = SchedulerConfiguration(instanceId: "test-\(prefix)")
        configuration.keyPrefix = prefix
        let scheduler = Scheduler(redis: redis, configuration: configuration, logger: Logger(label: "test.tls"))
        guard case .created = try await scheduler.startBackfill(connectionId: "c1", range: .last30Days) else {
            Issue.record("no backfill created through the sidecar")
            return
        }
        #expect(try await scheduler.backfill(connectionId: "c1")?.state == .queued)
        #expect(try await scheduler.stateCounts()[.queued] == 1)
        await redis.close()
    }

    @Test("pointed at the TLS port itself, the client fails with a connection error that names the sidecar")
    func plaintextToTLSPortFails() async throws {
        let ports = try Ports()
        let redis = try Self.client(port: ports.tls, commandTimeout: .seconds(2))
        let started = ContinuousClock.now
        let error = try await #require(throws: RedisError.self) { try await redis.send(["PING"]) }
        #expect(error.code == .connection, "\(error)")
        #expect(error.message.contains("use the TLS sidecar"), "\(error)")
        #expect(ContinuousClock.now - started < .seconds(2), "it should fail at the server's reset, not wait out the timeout")
        await redis.close()
    }

    @Test("through a sidecar that checks for another host name, the client fails with a connection error")
    func unverifiedServerFails() async throws {
        let ports = try Ports()
        let redis = try Self.client(port: ports.wrongHost, commandTimeout: .seconds(2))
        let error = try await #require(throws: RedisError.self) { try await redis.send(["PING"]) }
        #expect(error.code == .connection, "\(error)")
        await redis.close()
    }
}
