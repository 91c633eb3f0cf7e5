import BackfillRedis

extension SchedulerScripts {
    /// Schedules a connection's completeness audit, due `after` from Redis's clock (the one `claimAudits` reads,
    /// so an instance's clock that is off cannot make it early or late).
    /// KEYS: 1 audit:due. ARGV: 1 connection id, 2 due in (ms).
    /// Replies: 1.
    static let scheduleAudit = make("scheduleAudit", """
        redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[2]), ARGV[1])
        return 1
        """)

    /// Takes the completeness audits that are due: each is held (its due time pushed `hold` ahead) so that another
    /// instance does not take it too, and comes back by itself if this one dies before recording it.
    /// KEYS: 1 audit:due. ARGV: 1 most to take, 2 hold (ms).
    /// Replies: the connection ids taken.
    static let claimAudits = make("claimAudits", """
        local now = now_ms()
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
        for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id) end
        return due
        """)

    /// Records an audit's report on the backfill it audited (not on a newer one a reset made meanwhile) and
    /// schedules the next audit.
    /// KEYS: 1 bf, 2 audit:due. ARGV: 1 connection id, 2 backfill id, 3 audited at (ms), 4 repaired, 5 unrepaired,
    ///       6 next audit in (ms).
    /// Replies: 1 recorded | 0 the backfill is another one now (the audit is dropped).
    static let recordAudit = make("recordAudit", """
        if redis.call('HGET', KEYS[1], 'id') ~= ARGV[2] then
          redis.call('ZREM', KEYS[2], ARGV[1])
          return 0
        end
        redis.call('HSET', KEYS[1], 'auditedAt', ARGV[3], 'auditRepaired', ARGV[4], 'auditUnrepaired', ARGV[5])
        redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[6]), ARGV[1])
        return 1
        """)
}
