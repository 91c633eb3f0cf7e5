import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import Foundation
import Logging
import BackfillTestSupport
import Testing

/// A fresh key prefix on the test Redis for one test, with a scheduler and helpers around it.
struct TestEnvironment: Sendable {
    let url: String
    let prefix: String
    let redis: RedisClient
    let scheduler: Scheduler
    let testKeys: TestKeys

    init(configure: (inout SchedulerConfiguration) -> Void = { _ in }) throws {
        guard let url = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"] else {
            throw TestSetupError("BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test, which starts a redis-server")
        }
        self.url = url
        prefix = "t\(UUID().uuidString.prefix(8).lowercased())"
        redis = RedisClient(configuration: try RedisConfiguration(url: url), logger: Logger(label: "test.redis"))
        var configuration = SchedulerConfiguration(instanceId: "test-\(prefix)")
        configuration.keyPrefix = prefix
        configuration.leaseDuration = .seconds(10)  // long: a test machine under load must not lose leases by accident
        configuration.auditPeriod = .milliseconds(200)
        configuration.idleWait = .milliseconds(500)
        configure(&configuration)
        scheduler = Scheduler(redis: redis, configuration: configuration, logger: Logger(label: "test.scheduler"))
        testKeys = TestKeys(prefix: prefix)
    }

    func provider(pageSize: Int = 10, pageDelay: Duration = .zero, instance: String = "in-process") -> CountingMailProvider {
        CountingMailProvider(redis: redis, keys: testKeys, pageSize: pageSize, pageDelay: pageDelay, instance: instance,
                             slots: RedisSharedAdmission(scheduler: scheduler))
    }

    var store: RedisSetStore { RedisSetStore(redis: redis, keys: testKeys) }

    /// The connection's backfill; every read also checks that the scripts wrote no field into its hash that
    /// `BackfillField` (the one list of its field names) does not name, and the same of the connection's hash
    /// (`checkConnectionFields`).
    func record(_ id: String) async throws -> BackfillRecord {
        let names = try await redis.send(["HKEYS", scheduler.keys.backfill(id)]).strings
        let unknown = Set(names).subtracting(BackfillField.allCases.map(\.rawValue))
        #expect(unknown.isEmpty, "fields of \(id)'s backfill outside BackfillField: \(unknown.sorted())")
        try await checkConnectionFields(id)
        return try #require(try await scheduler.backfill(connectionId: id))
    }

    /// Checks that nothing (the directory, the scripts) wrote a field into the connection's hash that
    /// `ConnectionField` does not name. Returns the names found.
    @discardableResult
    func checkConnectionFields(_ id: String) async throws -> Set<String> {
        let names = Set(try await redis.send(["HKEYS", scheduler.keys.connection(id)]).strings)
        let unknown = names.subtracting(ConnectionField.allCases.map(\.rawValue))
        #expect(unknown.isEmpty, "fields of \(id)'s connection outside ConnectionField: \(unknown.sorted())")
        return names
    }

    /// The page offsets fetched for a connection, in order, with the instance and time (ms) of each.
    func fetches(_ id: String) async throws -> [(offset: Int, instance: String, at: Int64)] {
        try await redis.send(["LRANGE", testKeys.fetches(id), "0", "-1"]).strings.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let offset = Int(parts[0]), let at = Int64(parts[2]) else { return nil }
            return (offset, String(parts[1]), at)
        }
    }

    func stored(_ id: String) async throws -> Set<String> {
        Set(try await redis.send(["SMEMBERS", testKeys.stored(id)]).strings)
    }

    func inject(_ id: String, _ field: String, _ value: String = "1") async throws {
        _ = try await redis.send(["HSET", testKeys.faults(id), field, value])
    }

    /// Waits until `condition` holds, checking every 20 ms, or fails after `timeout`.
    func eventually(
        _ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out after \(timeout): \(what)")
    }

    func expectedIds(_ id: String) -> Set<String> {
        Set((0..<CountingMailProvider.messageCount(of: id)).map { "\(id)-m\($0)" })
    }
}

