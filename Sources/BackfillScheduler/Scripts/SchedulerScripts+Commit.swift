import BackfillRedis

extension SchedulerScripts {
    /// Records a stored page: checks the fencing epoch, advances the cursor, sets `pulled` and `pages`, and
    /// says whether to go on. The worker sends `pulled` and `pages` as they are with this page: only the lease
    /// holder changes them, and it read them at its claim, so they stay exact (a reset replaces the hash and
    /// raises the epoch, which refuses this commit). Three commands a page (EVALSHA, the lease's fields, one
    /// HSET), unless:
    /// - `news` is on the lease (a pause, cancel or resume, a notification, a due catch-up or a nudge came
    ///   while it was held): it reads the state and the dirty count too, clears `news`, and stops on a
    ///   pause or cancel (releasing the lease) or returns the dirty count, so the worker catches up before its
    ///   next page and then clears what it saw (`clearDirty`);
    /// - ARGV[9] is `renew` (the worker sends it at most every `leaseDuration / 30`): the lease runs a lease
    ///   duration from now again and `lastProgressAt` is set (Redis's clock), so it is never older than a
    ///   slice or a renewal period;
    /// - the worker's record showed an error (ARGV[10]): its fields are deleted;
    /// - it is the first commit after the provider's preparation (ARGV[11]): `prepared` and `estimatedTotal`
    ///   are set in the same HSET, and the backfill's `started` event goes to the outbox;
    /// - ARGV[7] is `last` (the backfill's last page, sent after the real-time handoff, `MailProvider.finish`):
    ///   the backfill completes in the same script, as `complete` does (its `completed` event with it); `yield` (the slice's last page by
    ///   count): the lease is released and the connection queued again at the tail in the same script, as
    ///   `release` does. Both set `lastProgressAt`.
    /// KEYS: 1 bf, 3 lease, 4 active, 5 leases, 8 nudges, 9 nudged, 10 stats, 11 conn, 12 bfcounts, 16 events.
    /// ARGV: 1 connection id, 2 owner, 3 epoch, 4 `pulled` with this page, 5 `pages` with this page, 6 next
    ///       cursor, 7 `last`, `yield` or empty, 8 lease duration (ms), 9 `renew` or empty, 10 `1` to
    ///       delete the error fields, 11 the estimated total when the preparation is to be recorded (else empty).
    /// Replies: {'continue', pulled, dirty count (0 unless `news`)} | {'completed', pulled} | {'yielded', pulled} | {'pause', pulled} |
    ///          {'cancel', pulled} (the page is recorded, the lease released) | {'stale'} (the caller lost the
    ///          lease: it must stop; counted in stats `staleCommits`).
    static let commit = make("commit", """
        local l = read_lease(KEYS[3])
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10], l) then return {'stale'} end
        local fields = {'pulled', ARGV[4], 'pages', ARGV[5], 'cursor', ARGV[6], 'attempts', 0, 'stalled', 0}
        local function add(field, value)
          fields[#fields + 1] = field
          fields[#fields + 1] = value
        end
        local mode = ARGV[7]
        if mode == 'last' then add('pagesDone', 1) end
        if ARGV[11] ~= '' then
          add('prepared', 1)
          add('estimatedTotal', ARGV[11])
          emit(KEYS[16], KEYS[1], 'started', ARGV[1])
        end
        if ARGV[10] == '1' then redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable') end
        -- Holding the lease, the state can only be running, queued (resumed), paused or cancelled, and only
        -- the last three leave `news`: every other transition releases the lease or raises the epoch.
        local state = 'running'
        local dirty = '0'
        if has_news(l) then
          state = redis.call('HGET', KEYS[1], 'state')
          dirty = redis.call('HGET', KEYS[11], 'dirty') or '0'
          redis.call('HSET', KEYS[3], 'news', '')
        end
        local live = state == 'running' or state == 'queued'
        local now
        if ARGV[9] ~= '' or (live and mode ~= '') then
          now = now_ms()
          add('lastProgressAt', now)
        end
        if live and mode == '' then
          if ARGV[9] == 'renew' then
            local expires = now + tonumber(ARGV[8])
            redis.call('HSET', KEYS[3], 'expiresAt', expires)
            redis.call('ZADD', KEYS[5], expires, ARGV[1])
          end
          -- queued: resumed while this worker still held the lease; it simply goes on.
          set_state(KEYS[1], KEYS[12], 'running', state, fields)
          return {'continue', ARGV[4], dirty}
        end
        release(KEYS[3], KEYS[5], ARGV[1], KEYS[9], KEYS[8], l)
        if live and mode == 'yield' then
          set_state(KEYS[1], KEYS[12], 'running', state, fields)
          nudge(KEYS[9], KEYS[8], ARGV[1], now)
          return {'yielded', ARGV[4]}
        end
        if live then
          add('completedAt', now)
          set_state(KEYS[1], KEYS[12], 'completed', state, fields)
          redis.call('SREM', KEYS[4], ARGV[1])
          emit(KEYS[16], KEYS[1], 'completed', ARGV[1], {'pulled', ARGV[4]})
          return {'completed', ARGV[4]}
        end
        redis.call('HSET', KEYS[1], unpack(fields))
        if state == 'paused' then return {'pause', ARGV[4]} end
        return {'cancel', ARGV[4]}
        """)

    /// Clears the dirty marks a catch-up answered, once it has stored the mail and moved the cursor: only
    /// the count the claim or commit showed is subtracted, so a notification that came during the catch-up
    /// keeps the connection dirty. Only the lease holder may clear. It also records the catch-up
    /// (`lastCatchUpAt`; the failures and their error removed, out of `realtime:delayed`) and schedules the next
    /// one in `realtime:due`: a poll period away for a polled mailbox, the safety period for one with a push
    /// channel (notifications can be lost). It answers how long the mail it answered waited: from the first
    /// notification or due catch-up after the last catch-up (`dirtySince`) to now; notifications that came
    /// during this catch-up are counted from now.
    /// KEYS: 3 lease, 7 retry:wake, 11 conn, 13 realtime:due, 15 realtime:delayed. ARGV: 1 connection id, 2 owner,
    ///       3 epoch, 4 dirty count seen, 5 next catch-up when polled (ms from now), 6 next catch-up with a push
    ///       channel (ms from now).
    /// Replies: {'cleared', dirty count left, ms waited or -1 (nothing marked, or marked by an older version)} | {'stale'}.
    static let clearDirty = make("clearDirty", """
        if not holds(KEYS[3], ARGV[3], ARGV[2]) then return {'stale'} end
        local now = now_ms()
        local marked = redis.call('HMGET', KEYS[11], 'dirty', 'dirtySince')
        local left = math.max((tonumber(marked[1] or '0') or 0) - tonumber(ARGV[4]), 0)
        local since = tonumber(marked[2] or '')
        local waited = since and tonumber(ARGV[4]) > 0 and math.max(now - since, 0) or -1
        if left > 0 then
          redis.call('HSET', KEYS[11], 'dirty', left, 'dirtySince', now)
        else
          redis.call('HDEL', KEYS[11], 'dirty', 'dirtySince')
        end
        redis.call('HSET', KEYS[11], 'lastCatchUpAt', now)
        redis.call('HDEL', KEYS[11], 'catchUpFailures', 'catchUpErrorCode', 'catchUpErrorMessage', 'catchUpRetryAt')
        redis.call('SREM', KEYS[15], ARGV[1])
        local conn = redis.call('HMGET', KEYS[11], 'health', 'realtimeMode')
        if conn[1] ~= 'error' and conn[1] ~= 'disconnected' then
          local delay = conn[2] == 'push' and ARGV[6] or ARGV[5]
          schedule_retry(KEYS[13], KEYS[7], ARGV[1], now + tonumber(delay))
        end
        return {'cleared', tostring(left), tostring(waited)}
        """)

    /// Records a catch-up that failed. `retry` (5xx, throttling, a bad answer): the connection stays healthy
    /// and dirty, and its next catch-up is due after the delay, doubled with each failure in a row up to the
    /// longest; the failures in a row, the error and that due time are kept for the views (`clearDirty`
    /// removes them). `broken` (token expired, permission lost) and `parent` (the parent's token does not work):
    /// the connection shows the failure (`error`, or `waiting_on_parent`) and is not caught up until a
    /// reconnect, which schedules it again.
    /// A connection failing `shownAfter` times in a row or more is in `realtime:delayed` (counted by `/metrics`).
    /// KEYS: 3 lease, 7 retry:wake, 11 conn, 13 realtime:due, 15 realtime:delayed. ARGV: 1 connection id, 2 owner,
    ///       3 epoch, 4 outcome `retry`|`broken`|`parent`, 5 error code, 6 error message, 7 first delay (ms),
    ///       8 longest delay (ms), 9 failures in a row from which new mail counts as delayed.
    /// Replies: {'retry', due time (ms)} | {'recorded'} | {'stale'}.
    static let catchUpFailed = make("catchUpFailed", """
        if not holds(KEYS[3], ARGV[3], ARGV[2]) then return {'stale'} end
        local now = now_ms()
        if ARGV[4] == 'retry' then
          local failures = redis.call('HINCRBY', KEYS[11], 'catchUpFailures', 1)
          local delay = math.min(tonumber(ARGV[7]) * 2 ^ math.min(failures - 1, 20), tonumber(ARGV[8]))
          local at = now + math.floor(delay)
          schedule_retry(KEYS[13], KEYS[7], ARGV[1], at)
          redis.call('HSET', KEYS[11], 'catchUpErrorCode', ARGV[5], 'catchUpErrorMessage', ARGV[6], 'catchUpRetryAt', at)
          if failures >= tonumber(ARGV[9]) then redis.call('SADD', KEYS[15], ARGV[1]) end
          return {'retry', tostring(at)}
        end
        redis.call('ZREM', KEYS[13], ARGV[1])
        redis.call('SREM', KEYS[15], ARGV[1])
        -- Disconnected during the catch-up (its credentials are gone, hence the refusal): it stays so.
        if redis.call('HGET', KEYS[11], 'health') == 'disconnected' then return {'recorded'} end
        local health = ARGV[4] == 'parent' and 'waiting_on_parent' or 'error'
        redis.call('HSET', KEYS[11], 'health', health, 'errorCode', ARGV[5], 'errorMessage', ARGV[6])
        return {'recorded'}
        """)

    /// Records the provider's preparation (estimated total) before the first page, and the backfill's `started` event.
    /// KEYS: 1 bf, 3 lease, 10 stats, 16 events. ARGV: 1 connection id, 2 owner, 3 epoch, 4 estimated total.
    /// Replies: {'ok'} | {'stale'}.
    static let prepared = make("prepared", """
        if not fenced(KEYS[3], ARGV[3], ARGV[2], KEYS[10]) then return {'stale'} end
        redis.call('HSET', KEYS[1], 'prepared', 1, 'estimatedTotal', ARGV[4])
        emit(KEYS[16], KEYS[1], 'started', ARGV[1])
        return {'ok'}
        """)
}
