extension SchedulerScripts {
    /// Admits one provider request of a mailbox: checks its Retry-After gate and, when the gate is open, takes
    /// its units of the mailbox's in-flight limit (across all instances), in one round trip. One sorted set holds
    /// both: a slot is a member `units:permit` scored by its expiry, so a killed worker's come back by themselves
    /// (a running request renews its slot, `renewSlot`); the gate is the member `gate` scored by its not-before
    /// time, closed while that is ahead. One range read answers both questions.
    /// KEYS: 1 slots:{id}. ARGV: 1 slot member (`units:permit`), 2 limit (units), 3 slot lifetime (ms),
    ///       4 units (at most the limit).
    /// Replies (`AdmitReply`): {0} admitted | {1, ms the gate stays closed} | {2, ms until the earliest slot expires}.
    static let admit = make("admit", """
        local now = now_ms()
        -- Live members only (a few: the limit is 4 requests or 10 calls, and the gate); expired ones are swept when full.
        local held = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')
        local used = 0
        local earliest = nil
        for i = 1, #held, 2 do
          if held[i] == 'gate' then return {1, tonumber(held[i + 1]) - now} end
          used = used + (tonumber(string.match(held[i], '^(%d+):')) or 1)
          earliest = earliest or tonumber(held[i + 1])
        end
        if used + tonumber(ARGV[4]) > tonumber(ARGV[2]) then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
          return {2, (earliest or now) - now}
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
        -- The gate is open, so nothing live outlasts a lifetime from now: an idle mailbox's set goes by itself.
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
        return {0}
        """)

    /// Releases an admitted request: gives its slot back and, when the answer was a throttle, closes the gate
    /// for the wait from now (unless it is already closed for longer), before anything else can be admitted.
    /// KEYS: 1 slots:{id}. ARGV: 1 slot member (`units:permit`), 2 gate wait (ms; 0: leave the gate as it is),
    ///       3 slot lifetime (ms).
    /// Replies: the gate's remaining wait after a throttle (ms); 0 without one.
    static let releaseSlot = make("releaseSlot", """
        redis.call('ZREM', KEYS[1], ARGV[1])
        local wait = tonumber(ARGV[2])
        if wait <= 0 then return 0 end
        local now = now_ms()
        local left = tonumber(redis.call('ZSCORE', KEYS[1], 'gate') or '0') - now
        if left >= wait then return left end
        redis.call('ZADD', KEYS[1], now + wait, 'gate')
        -- Long enough for the gate and for every live slot (each expires within a lifetime from now).
        redis.call('PEXPIRE', KEYS[1], math.max(wait, tonumber(ARGV[3])))
        return wait
        """)

    /// Pushes a running request's slot expiry a lifetime ahead, so a slow request keeps its slot; the set lives at
    /// least as long (never shortened: a closed gate may need longer).
    /// KEYS: 1 slots:{id}. ARGV: 1 slot member (`units:permit`), 2 slot lifetime (ms).
    /// Replies: 1 (renewed) | 0 (the slot had already expired and may be someone else's now).
    static let renewSlot = make("renewSlot", """
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
        local lifetime = tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], now_ms() + lifetime, ARGV[1])
        if redis.call('PTTL', KEYS[1]) < lifetime then redis.call('PEXPIRE', KEYS[1], lifetime) end
        return 1
        """)
}
