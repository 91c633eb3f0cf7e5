extension SchedulerScripts {
    /// Admits one provider request of a mailbox: checks its Retry-After gate and, when the gate is open, takes
    /// its units of the mailbox's in-flight limit (across all instances), in one round trip. A slot is a member
    /// `units:permit` scored by its expiry, so a killed worker's come back by themselves; a running request
    /// renews its slot (`renewSlot`).
    /// KEYS: 1 gate:{id}, 2 slots:{id}. ARGV: 1 slot member (`units:permit`), 2 limit (units), 3 slot lifetime (ms),
    ///       4 units (at most the limit).
    /// Replies (`AdmitReply`): {0} admitted | {1, ms the gate stays closed} | {2, ms until the earliest slot expires}.
    static let admit = make("admit", """
        local closed = redis.call('PTTL', KEYS[1])
        if closed > 0 then return {1, closed} end
        local limit = tonumber(ARGV[2])
        local units = tonumber(ARGV[4])
        local now = now_ms()
        -- Live slots only (a few members: the limit is 4 requests or 10 calls); expired ones are swept when full.
        local held = redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'WITHSCORES')
        local used = 0
        for i = 1, #held, 2 do used = used + (tonumber(string.match(held[i], '^(%d+):')) or 1) end
        if used + units > limit then
          redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
          return {2, tonumber(held[2]) - now}
        end
        redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
        redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
        return {0}
        """)

    /// Releases an admitted request: gives its slot back and, when the answer was a throttle, closes the gate
    /// for the wait from now (unless it is already closed for longer), before anything else can be admitted.
    /// KEYS: 1 slots:{id}, 2 gate:{id}. ARGV: 1 slot member (`units:permit`), 2 gate wait (ms; 0: leave the gate as it is).
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
    /// KEYS: 1 slots:{id}. ARGV: 1 slot member (`units:permit`), 2 slot lifetime (ms).
    /// Replies: 1 (renewed) | 0 (the slot had already expired and may be someone else's now).
    static let renewSlot = make("renewSlot", """
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
        redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
        return 1
        """)
}
