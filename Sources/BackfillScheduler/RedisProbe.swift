import BackfillRedis

/// What the HTTP side may ask of the scheduler's Redis without holding its client: whether it is known
/// down, a bounded PING, and fail-fast commands for request handlers. Handed out by `Scheduler.probe`.
public struct RedisProbe: Sendable {
    let redis: RedisClient

    /// True while the client knows the server is down (a connect failed, its retry is not due yet); no I/O.
    public var isKnownDown: Bool { redis.isKnownDown }

    /// Whether PING answers PONG within `timeout` (connecting included) on a connection of its own, failing
    /// fast. False: it answered something else. Throws `RedisError` when it got no answer.
    public func isReachable(within timeout: Duration) async throws -> Bool {
        try await redis.ping(timeout: timeout).string == "PONG"
    }

    /// Runs `operation` with fail-fast Redis commands (see `RedisClient.failingFast`): while Redis cannot be
    /// reached they fail at once with `.connection` instead of waiting for a reconnect.
    public func failingFast<Result>(
        isolation: isolated (any Actor)? = #isolation, _ operation: () async throws -> Result
    ) async rethrows -> Result {
        try await RedisClient.failingFast(isolation: isolation, operation)
    }
}
