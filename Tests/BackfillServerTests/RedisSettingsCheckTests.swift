import BackfillRedis
@testable import BackfillServer
import BackfillTestSupport
import Logging
import Testing

@Suite("Redis settings check")
struct RedisSettingsCheckTests {
    @Test("warns about each missing setting the service needs, and says nothing once both are set")
    func warnsPerSetting() async throws {
        let server = try PrivateRedisServer()  // started with appendonly no, the default noeviction policy
        try await server.start()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), logger: Logger(label: "test"))

        let appendOnlyOff = await RedisSettingsCheck.warnings(redis)
        #expect(appendOnlyOff.count == 1)
        #expect(appendOnlyOff.first?.hasPrefix("Redis has appendonly no, not yes") == true)

        _ = try await redis.send(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        let both = await RedisSettingsCheck.warnings(redis)
        #expect(both.map { $0.prefix(40) } == ["Redis has maxmemory-policy allkeys-lru, ", "Redis has appendonly no, not yes: withou"])

        _ = try await redis.send(["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        _ = try await redis.send(["CONFIG", "SET", "appendonly", "yes"])
        #expect(await RedisSettingsCheck.warnings(redis) == [])

        await redis.close()
        try await server.stop()
    }

    @Test("an unreachable server gives one warning that the check could not run")
    func unreachable() async throws {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(try PrivateRedisServer.freePort())")
        configuration.commandTimeout = .seconds(1)
        let redis = RedisClient(configuration: configuration, logger: Logger(label: "test"))
        let warnings = await RedisSettingsCheck.warnings(redis)
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("could not read Redis settings with CONFIG GET") == true)
        await redis.close()
    }
}
