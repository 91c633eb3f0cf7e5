import BackfillRedis

extension SchedulerScripts {
    /// Keeps a connect flow's state unless too many are in progress: the flows are bounded, so an
    /// unauthenticated `/oauth/{provider}/start` cannot fill Redis.
    /// KEYS: 1 oauth:pending (zset state → expiry ms), 2 oauth:{state}.
    /// ARGV: 1 state, 2 record, 3 lifetime (ms), 4 most flows in progress.
    /// Replies: 0 (kept) | ms until the oldest flow expires (refused: at the cap).
    static let beginSignIn = make("beginSignIn", """
        local now = now_ms()
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
          local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          return math.max(1, tonumber(oldest[2]) - now)
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
        redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
        return 0
        """)

    /// Takes a connect flow's state back, once.
    /// KEYS: 1 oauth:pending, 2 oauth:{state}. ARGV: 1 state. Replies: the record, or nil.
    static let takeSignIn = make("takeSignIn", """
        redis.call('ZREM', KEYS[1], ARGV[1])
        return redis.call('GETDEL', KEYS[2])
        """)
}
