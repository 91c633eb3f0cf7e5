import BackfillRedis
import BackfillScheduler
import Hummingbird

/// How the HTTP side behaves while Redis is away, in one place.
enum RedisOutagePolicy {
    /// `Retry-After` on a 503 `redis_unavailable`: the client reconnects within a second (its backoff
    /// tops out at 1 s), so a caller can try again that soon.
    static let retryAfterSeconds = 1
    /// The longest `/readyz` waits for Redis's PING (connecting included) before it reports Redis
    /// unreachable: well under a probe's usual 1 s timeout, far above a healthy round trip.
    static let readinessTimeout = Duration.milliseconds(500)
}

/// Routes that need Redis (the API under `/v1`, the OAuth connect flow) answer 503 `redis_unavailable`
/// at once while the Redis client knows the server is down, and run with fail-fast Redis commands
/// (`RedisProbe.failingFast`): the first request that finds Redis gone fails within milliseconds, not
/// after the command timeout. Workers keep waiting for the reconnect as before. Added to a router or
/// group, it covers the routes added after it; unmatched paths pass through to the 404.
struct RedisAvailabilityMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let redis: RedisProbe

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A matched route has its endpoint path by now; an unmatched path gets it only in the 404 responder.
        guard context.endpointPath != nil else { return try await next(request, context) }
        guard !redis.isKnownDown else { throw APIError.redisUnavailable }
        return try await redis.failingFast { try await next(request, context) }
    }
}

extension APIError {
    /// Redis cannot be reached; the request can be sent again shortly.
    static let redisUnavailable = APIError(
        .serviceUnavailable, code: "redis_unavailable",
        message: "Redis is unreachable; the service reconnects on its own, try again shortly",
        retryAfterSeconds: RedisOutagePolicy.retryAfterSeconds
    )
}

extension RedisError {
    /// The server is away (no connection, no reply in time, the client closed at shutdown): the API
    /// answers 503 `redis_unavailable`. An error reply is not an outage (it stays a 500).
    var isOutage: Bool {
        code == .connection || code == .timeout || code == .closed
    }
}
