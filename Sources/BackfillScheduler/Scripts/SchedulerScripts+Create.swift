import BackfillRedis

extension SchedulerScripts {
    /// Creates a backfill, or replaces the current one (reset).
    /// KEYS: 1 bf, 2 bfhist, 3 lease, 4 active, 6 retry, 8 nudges, 9 nudged, 12 bfcounts, 14 skipped.
    /// ARGV: 1 connection id, 2 backfill id, 3 range, 4 window start (ms), 5 window end (ms),
    ///       6 mode `create` (refused while a backfill is unfinished) or `reset`.
    /// Replies: {'created', backfillId} | {'exists', state}.
    /// The lease epoch goes up so that a worker still holding the old backfill is fenced off. The messages the old
    /// backfill skipped are forgotten: the new one lists its range again and skips what is still refused.
    static let create = make("create", """
        local now = now_ms()
        local state = redis.call('HGET', KEYS[1], 'state')
        if state and ARGV[6] == 'create' and state ~= 'completed' and state ~= 'cancelled' and state ~= 'failed' then
          return {'exists', state}
        end
        if state then
          local flat = redis.call('HGETALL', KEYS[1])
          local old = {}
          for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end
          redis.call('LPUSH', KEYS[2], cjson.encode(old))
          redis.call('LTRIM', KEYS[2], 0, 9)
          redis.call('DEL', KEYS[1])
          redis.call('HINCRBY', KEYS[12], state, -1)
        end
        redis.call('DEL', KEYS[14])
        redis.call('HINCRBY', KEYS[3], 'epoch', 1)
        redis.call('HSET', KEYS[3], 'owner', '', 'expiresAt', 0)
        set_state(KEYS[1], KEYS[12], 'queued')
        redis.call('HSET', KEYS[1], 'id', ARGV[2], 'range', ARGV[3],
          'windowStart', ARGV[4], 'windowEnd', ARGV[5], 'cursor', '', 'pagesDone', 0, 'pulled', 0,
          'estimatedTotal', 0, 'prepared', 0, 'createdAt', now, 'attempts', 0, 'throttles', 0, 'pages', 0)
        redis.call('SADD', KEYS[4], ARGV[1])
        redis.call('ZREM', KEYS[6], ARGV[1])
        nudge(KEYS[9], KEYS[8], ARGV[1])
        return {'created', ARGV[2]}
        """)
}
