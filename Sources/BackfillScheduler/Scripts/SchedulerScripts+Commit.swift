import BackfillRedis

extension SchedulerScripts {
    /// Records a stored page: checks the fencing epoch, advances the cursor, adds the page to `pulled`,
    /// renews the lease, and says whether to go on.
    /// It also takes the connection's dirty mark, so the worker catches up on new mail before its next page.
    /// KEYS: 1 bf, 3 lease, 5 leases, 10 stats, 11 conn.
    /// ARGV: 1 connection id, 2 owner, 3 epoch, 4 messages in the page, 5 next cursor, 6 `1` when it was
    ///       the last page, 7 lease duration (ms).
    /// Replies: {'continue', pulled, dirty 0|1} | {'pause', pulled} | {'cancel', pulled} | {'stale'} (the caller
    ///          lost the lease: it must stop; counted in stats `staleCommits`).
    static let commit = make("commit", """
        local now = now_ms()
        local state = redis.call('HGET', KEYS[1], 'state')
        -- Holding the lease, the state can only be running, queued (resumed), paused or cancelled: every
        -- other transition releases the lease or raises the epoch.
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10]) then return {'stale'} end
        local pulled = redis.call('HINCRBY', KEYS[1], 'pulled', tonumber(ARGV[4]))
        redis.call('HINCRBY', KEYS[1], 'pages', 1)
        redis.call('HSET', KEYS[1], 'cursor', ARGV[5], 'lastProgressAt', now, 'attempts', 0, 'stalled', 0)
        redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable')
        if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'pagesDone', 1) end
        if state == 'running' or state == 'queued' then
          -- queued: resumed while this worker still held the lease; it simply goes on.
          redis.call('HSET', KEYS[1], 'state', 'running')
          local expires = now + tonumber(ARGV[7])
          redis.call('HSET', KEYS[3], 'expiresAt', expires)
          redis.call('ZADD', KEYS[5], expires, ARGV[1])
          return {'continue', tostring(pulled), tostring(redis.call('HDEL', KEYS[11], 'dirty'))}
        end
        release(KEYS[3], KEYS[5], ARGV[1])
        if state == 'paused' then return {'pause', tostring(pulled)} end
        return {'cancel', tostring(pulled)}
        """)

    /// Records the provider's preparation (estimated total) before the first page.
    /// KEYS: 1 bf, 3 lease, 10 stats. ARGV: 1 connection id, 2 owner, 3 epoch, 4 estimated total.
    /// Replies: {'ok'} | {'stale'}.
    static let prepared = make("prepared", """
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10]) then return {'stale'} end
        redis.call('HSET', KEYS[1], 'prepared', 1, 'estimatedTotal', ARGV[4])
        return {'ok'}
        """)
}
