/// Logger metadata keys used by the Redis client, in one place.
enum RedisLogKey {
    static let endpoint = "redis.endpoint"
    static let error = "redis.error"
    static let script = "redis.script"
    static let retryInMilliseconds = "redis.retry_in_ms"
}
