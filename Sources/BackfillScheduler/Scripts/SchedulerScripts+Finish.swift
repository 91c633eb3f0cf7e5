import BackfillRedis

extension SchedulerScripts {
    /// Marks the backfill completed after its last page and the real-time handoff. Holding the lease, the
    /// state is `running` unless `news` is on the lease (a pause, cancel or resume came): only then is it read.
    /// Its `completed` event, with `pulled`, goes to the outbox.
    /// KEYS: 1 bf, 3 lease, 4 active, 5 leases, 8 nudges, 9 nudged, 10 stats, 12 bfcounts, 16 events.
    /// ARGV: 1 connection id, 2 owner, 3 epoch.
    /// Replies: {'completed'} | {'pause'} | {'cancel'} (the user acted first) | {'stale'}.
    static let complete = make("complete", """
        local now = now_ms()
        local l = read_lease(KEYS[3])
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10], l) then return {'stale'} end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8], l)
        local state = 'running'
        if has_news(l) then state = redis.call('HGET', KEYS[1], 'state') end
        if state == 'paused' then return {'pause'} end
        if state == 'cancelled' then return {'cancel'} end
        set_state(KEYS[1], KEYS[12], 'completed', state, {'completedAt', now})
        redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable', 'retryAt')
        redis.call('SREM', KEYS[4], ARGV[1])
        emit(KEYS[16], KEYS[1], 'completed', ARGV[1], {'pulled', redis.call('HGET', KEYS[1], 'pulled') or '0'})
        return {'completed'}
        """)

    /// Parks the backfill until a time: throttling (state `throttled`) or a transient failure's backoff
    /// (state `queued`, the error shown). The connection goes into the retry set; the lease is released.
    /// KEYS: 1 bf, 3 lease, 5 leases, 6 retry, 7 retry:wake, 8 nudges, 9 nudged, 10 stats, 12 bfcounts.
    /// ARGV: 1 connection id, 2 owner, 3 epoch, 4 delay (ms), 5 new state `throttled`|`queued`,
    ///       6 error code, 7 error message, 8 `1` when the failure counts against the attempt budget.
    /// Replies: {'parked', retryAt} | {state} (paused or cancelled meanwhile; retryAt is kept) | {'stale'}.
    static let park = make("park", """
        local now = now_ms()
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10]) then return {'stale'} end
        local at = now + tonumber(ARGV[4])
        redis.call('HSET', KEYS[1], 'retryAt', at, 'errorCode', ARGV[6], 'errorMessage', ARGV[7], 'errorRetryable', 1)
        if ARGV[8] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
        if ARGV[5] == 'throttled' then
          redis.call('HINCRBY', KEYS[1], 'throttles', 1)
          redis.call('HINCRBY', KEYS[10], 'throttleParks', 1)
        end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8])
        local state = redis.call('HGET', KEYS[1], 'state')
        if state ~= 'running' and state ~= 'queued' then return {state} end
        set_state(KEYS[1], KEYS[12], ARGV[5])
        schedule_retry(KEYS[6], KEYS[7], ARGV[1], at)
        return {'parked', tostring(at)}
        """)

    /// Stops the backfill on an error (`failed`) or until the parent connection is back (`waiting_on_parent`).
    /// A failure that is not retryable (token expired, permission lost) also puts the connection in `error`.
    /// A `failed` backfill's event, with `errorCode`, goes to the outbox.
    /// KEYS: 1 bf, 3 lease, 4 active, 5 leases, 6 retry, 8 nudges, 9 nudged, 10 stats, 11 conn, 12 bfcounts, 16 events.
    /// ARGV: 1 connection id, 2 owner, 3 epoch, 4 state `failed`|`waiting_on_parent`, 5 error code,
    ///       6 error message, 7 `1` if retryable.
    /// Replies: {'stopped'} | {state} (paused or cancelled meanwhile) | {'stale'}.
    static let stop = make("stop", """
        local now = now_ms()
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10]) then return {'stale'} end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8])
        local state = redis.call('HGET', KEYS[1], 'state')
        if state ~= 'running' and state ~= 'queued' then return {state} end
        set_state(KEYS[1], KEYS[12], ARGV[4])
        redis.call('HSET', KEYS[1], 'errorCode', ARGV[5], 'errorMessage', ARGV[6], 'errorRetryable', ARGV[7])
        redis.call('ZREM', KEYS[6], ARGV[1])
        if ARGV[4] == 'failed' then
          redis.call('HSET', KEYS[1], 'completedAt', now)
          redis.call('SREM', KEYS[4], ARGV[1])
          emit(KEYS[16], KEYS[1], 'failed', ARGV[1], {'errorCode', ARGV[5]})
        end
        if ARGV[7] == '0' and redis.call('EXISTS', KEYS[11]) == 1 then
          redis.call('HSET', KEYS[11], 'health', 'error', 'errorCode', ARGV[5], 'errorMessage', ARGV[6])
        end
        return {'stopped'}
        """)

    /// Gives the lease back (end of a slice, or shutdown) and queues the connection again at the tail,
    /// so other connections get a turn and another instance can take it at once. After a backfill's slice
    /// the state is `running` (queued again), after a catch-up-only claim it is a finished one (not queued),
    /// unless `news` is on the lease (a pause, cancel or resume came): only then is it read.
    /// KEYS: 1 bf, 3 lease, 5 leases, 8 nudges, 9 nudged. ARGV: 1 connection id, 2 owner, 3 epoch, 4 `1` after
    ///       a backfill's slice, `0` after a catch-up-only claim.
    /// Replies: {'released'} | {'stale'}.
    static let release = make("release", """
        local l = read_lease(KEYS[3])
        if not holds(KEYS[3], ARGV[3], ARGV[2], l) then return {'stale'} end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8], l)
        local running = ARGV[4] == '1'
        if has_news(l) then
          local state = redis.call('HGET', KEYS[1], 'state')
          running = state == 'running' or state == 'queued'
        end
        if running then nudge(KEYS[9], KEYS[8], ARGV[1]) end
        return {'released'}
        """)
}
