extension SchedulerScripts {
    /// Admits one provider request of a mailbox: checks its Retry-After gate and, when the gate is open, takes
    /// one of its request slots (at most `limit` requests in flight across all instances), in one round trip.
    /// Slots expire, so a killed worker's come back by themselves; a running request renews its slot
    /// (`renewSlot`).
    /// KEYS: 1 gate:{id}, 2 slots:{id}. ARGV: 1 permit id, 2 limit, 3 slot lifetime (ms).
    /// Replies (`AdmitReply`): {0} admitted | {1, ms the gate stays closed} | {2, ms until the earliest slot expires}.
    static let admit = make("admit", """
        local closed = redis.call('PTTL', KEYS[1])
        if closed > 0 then return {1, closed} end
        local limit = tonumber(ARGV[2])
        local now = now_ms()
        -- Expired permits (a killed holder's) are swept only when the slots look full: the common case stays short.
        if redis.call('ZCARD', KEYS[2]) >= limit then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
          if redis.call('ZCARD', KEYS[2]) >= limit then
            local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            return {2, tonumber(first[2]) - now}
          end
        end
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
        redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
        return {0}
        """)

    /// Releases an admitted request: gives its slot back and, when the answer was a throttle, closes the gate
    /// for the wait from now (unless it is already closed for longer), before anything else can be admitted.
    /// KEYS: 1 slots:{id}, 2 gate:{id}. ARGV: 1 permit id, 2 gate wait (ms; 0: leave the gate as it is).
    /// Replies: the gate's remaining wait after a throttle (ms); 0 without one.
    static let releaseSlot = make("releaseSlot", """
        redis.call('ZREM', KEYS[1], ARGV[1])
        local wait = tonumber(ARGV[2])
        if wait <= 0 then return 0 end
        local left = redis.call('PTTL', KEYS[2])
        if left >= wait then return left end
        redis.call('SET', KEYS[2], now_ms() + wait, 'PX', wait)
        return wait
        """)

    /// Pushes a running request's slot expiry a lifetime ahead, so a slow request keeps its slot.
    /// KEYS: 1 slots:{id}. ARGV: 1 permit id, 2 slot lifetime (ms).
    /// Replies: 1 (renewed) | 0 (the slot had already expired and may be someone else's now).
    static let renewSlot = make("renewSlot", """
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
        redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
        return 1
        """)
}
