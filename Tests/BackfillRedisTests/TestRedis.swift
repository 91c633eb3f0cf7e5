import BackfillRedis
import BackfillTestSupport
import Foundation
import Logging
import Testing

/// The shared test server (`BACKFILL_TEST_REDIS_URL`, started by ops/test) and a key prefix per test,
/// so suites run in parallel against one server.
enum TestRedis {
    static var url: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"] else {
                throw TestSetupError(
                    "BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test, or point it at a redis-server")
            }
            return url
        }
    }

    static func client(
        url: String? = nil, poolSize: Int = 4, commandTimeout: Duration = .seconds(5)
    ) throws -> RedisClient {
        let configuration = try RedisConfiguration(
            url: url ?? Self.url, poolSize: poolSize, commandTimeout: commandTimeout)
        return RedisClient(configuration: configuration, logger: Logger(label: "BackfillRedisTests"))
    }

    /// A fresh key prefix, unique to one test.
    static func prefix(_ test: String = #function) -> String {
        "test:redis:\(test.prefix { $0 != "(" }):\(UUID().uuidString):"
    }
}

