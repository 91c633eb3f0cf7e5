import BackfillRedis

/// What the service needs of the Redis it shares with other instances, checked once at startup so an
/// operator learns of a risky server from the log rather than from lost state (see `ops/redis/backfill.conf`).
///
/// - `maxmemory-policy noeviction`: an evicting policy may silently drop a lease, a cursor or a queued nudge.
/// - `appendonly yes`: without the append-only file a Redis restart forgets every backfill's cursor.
///
/// ```swift
/// for warning in await RedisSettingsCheck.warnings(redis) { logger.warning("\(warning)") }
/// ```
public enum RedisSettingsCheck {
    /// One sentence per setting that is not as required; empty when all are. A server that refuses
    /// `CONFIG GET` (managed services often rename it) gets one warning saying the check could not run.
    public static func warnings(_ redis: RedisClient) async -> [String] {
        let required = [("maxmemory-policy", "noeviction", "an evicting policy can drop leases, cursors and queued nudges"),
                        ("appendonly", "yes", "without the append-only file a Redis restart loses every backfill's cursor")]
        var warnings: [String] = []
        for (name, wanted, why) in required {
            let reply: RedisReply
            do {
                reply = try await redis.send(["CONFIG", "GET", name])
            } catch {
                return ["could not read Redis settings with CONFIG GET (\(error)); make sure the server has maxmemory-policy noeviction and appendonly yes"]
            }
            let actual = reply.array?.dropFirst().first?.string ?? "unknown"
            if actual != wanted {
                warnings.append("Redis has \(name) \(actual), not \(wanted): \(why) (see ops/redis/backfill.conf)")
            }
        }
        return warnings
    }
}
