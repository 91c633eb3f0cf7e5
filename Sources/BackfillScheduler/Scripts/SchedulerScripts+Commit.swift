import BackfillRedis

extension SchedulerScripts {
    /// Records a stored page: checks the fencing epoch, advances the cursor, adds the page to `pulled`,
    /// renews the lease, and says whether to go on.
    /// It also reads (never clears) the connection's dirty count, so the worker catches up on new mail before
    /// its next page and then clears what it saw (`clearDirty`).
    /// KEYS: 1 bf, 3 lease, 5 leases, 8 nudges, 9 nudged, 10 stats, 11 conn, 12 bfcounts.
    /// ARGV: 1 connection id, 2 owner, 3 epoch, 4 messages in the page, 5 next cursor, 6 `1` when it was
    ///       the last page, 7 lease duration (ms).
    /// Replies: {'continue', pulled, dirty count} | {'pause', pulled} | {'cancel', pulled} | {'stale'} (the
    ///          caller lost the lease: it must stop; counted in stats `staleCommits`).
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
          set_state(KEYS[1], KEYS[12], 'running')
          local expires = now + tonumber(ARGV[7])
          redis.call('HSET', KEYS[3], 'expiresAt', expires)
          redis.call('ZADD', KEYS[5], expires, ARGV[1])
          return {'continue', tostring(pulled), redis.call('HGET', KEYS[11], 'dirty') or '0'}
        end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8])
        if state == 'paused' then return {'pause', tostring(pulled)} end
        return {'cancel', tostring(pulled)}
        """)

    /// Clears the dirty marks a catch-up answered, once it has stored the mail and moved the cursor: only
    /// the count the claim or commit showed is subtracted, so a notification that came during the catch-up
    /// keeps the connection dirty. Only the lease holder may clear. It also records the catch-up
    /// (`lastCatchUpAt`, failures reset) and schedules the next one in `realtime:due`: a poll period away
    /// for a polled mailbox, the safety period for one with a push channel (notifications can be lost).
    /// KEYS: 3 lease, 7 retry:wake, 11 conn, 13 realtime:due. ARGV: 1 connection id, 2 owner, 3 epoch, 4 dirty count seen,
    ///       5 next catch-up when polled (ms from now), 6 next catch-up with a push channel (ms from now).
    /// Replies: {'cleared', dirty count left} | {'stale'}.
    static let clearDirty = make("clearDirty", """
        if not holds(KEYS[3], ARGV[3], ARGV[2]) then return {'stale'} end
        local now = now_ms()
        local left = tonumber(redis.call('HGET', KEYS[11], 'dirty') or '0') or 0
        left = math.max(left - tonumber(ARGV[4]), 0)
        if left > 0 then
          redis.call('HSET', KEYS[11], 'dirty', left)
        else
          redis.call('HDEL', KEYS[11], 'dirty')
        end
        redis.call('HSET', KEYS[11], 'lastCatchUpAt', now)
        redis.call('HDEL', KEYS[11], 'catchUpFailures')
        local conn = redis.call('HMGET', KEYS[11], 'health', 'realtimeMode')
        if conn[1] ~= 'error' and conn[1] ~= 'disconnected' then
          local delay = conn[2] == 'push' and ARGV[6] or ARGV[5]
          schedule_retry(KEYS[13], KEYS[7], ARGV[1], now + tonumber(delay))
        end
        return {'cleared', tostring(left)}
        """)

    /// Records a catch-up that failed. `retry` (5xx, throttling, a bad answer): the connection stays healthy
    /// and dirty, and its next catch-up is due after the delay, doubled with each failure in a row up to the
    /// longest. `broken` (token expired, permission lost) and `parent` (the parent's token does not work):
    /// the connection shows the failure (`error`, or `waiting_on_parent`) and is not caught up until a
    /// reconnect, which schedules it again.
    /// KEYS: 3 lease, 7 retry:wake, 11 conn, 13 realtime:due. ARGV: 1 connection id, 2 owner, 3 epoch,
    ///       4 outcome `retry`|`broken`|`parent`, 5 error code, 6 error message, 7 first delay (ms), 8 longest delay (ms).
    /// Replies: {'retry', due time (ms)} | {'recorded'} | {'stale'}.
    static let catchUpFailed = make("catchUpFailed", """
        if not holds(KEYS[3], ARGV[3], ARGV[2]) then return {'stale'} end
        local now = now_ms()
        if ARGV[4] == 'retry' then
          local failures = redis.call('HINCRBY', KEYS[11], 'catchUpFailures', 1)
          local delay = math.min(tonumber(ARGV[7]) * 2 ^ math.min(failures - 1, 20), tonumber(ARGV[8]))
          local at = now + math.floor(delay)
          schedule_retry(KEYS[13], KEYS[7], ARGV[1], at)
          return {'retry', tostring(at)}
        end
        redis.call('ZREM', KEYS[13], ARGV[1])
        -- Disconnected during the catch-up (its credentials are gone, hence the refusal): it stays so.
        if redis.call('HGET', KEYS[11], 'health') == 'disconnected' then return {'recorded'} end
        local health = ARGV[4] == 'parent' and 'waiting_on_parent' or 'error'
        redis.call('HSET', KEYS[11], 'health', health, 'errorCode', ARGV[5], 'errorMessage', ARGV[6])
        return {'recorded'}
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
