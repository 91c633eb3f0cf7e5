import BackfillRedis

extension SchedulerScripts {
    /// Takes the connection's lease if it is free or expired and the backfill is runnable and due.
    /// Also takes the connection off the nudge queue's set, so a later nudge queues it again.
    /// A connection marked dirty by a webhook is claimed even when its backfill is finished (or absent),
    /// so its lease holder catches up on new mail, unless the connection is in `error`, `waiting_on_parent`
    /// or `disconnected` (it does no work until a reconnect, whose catch-up answers the marks left). The
    /// claim only reads the dirty count (`conn` field `dirty`, one per notification); the worker subtracts
    /// what it saw once its catch-up has stored the mail and moved the cursor (`clearDirty`), so a worker
    /// killed or failing mid-catch-up loses nothing.
    /// It reads each key once (the backfill hash whole, `dirty` and `health` together, the lease's fields
    /// together) and writes the lease in one HSET: 9 commands for a backfill already running, 12 for its
    /// first claim (the state counts and `startedAt`).
    /// KEYS: 1 bf, 3 lease, 5 leases, 6 retry, 7 retry:wake, 9 nudged, 10 stats, 11 conn, 12 bfcounts.
    /// ARGV: 1 connection id, 2 owner, 3 lease duration (ms).
    /// Replies: {'claimed', epoch, ms since the nudge (or -1), dirty count, `1` when it took over an expired
    ///          lease (else `0`), field1, value1, ...} (the backfill hash as it is after the claim) |
    ///          {'catchup', epoch, dirty count} (only real-time work) | {'none'} (no backfill) |
    ///          {'idle', state} (not runnable) | {'wait', retryAt} (not due yet) | {'busy'} (lease held).
    /// A claim that finds the lease held (busy, or dirty while another worker catches up) leaves `requeue` on
    /// the lease, so the holder's release queues the connection again: a nudge is never lost to a busy lease.
    /// It also leaves `news`, so the holder's next commit looks at the dirty count; a claim clears `news`.
    static let claim = make("claim", """
        local now = now_ms()
        local nudgedAt = tonumber(redis.call('HGET', KEYS[9], ARGV[1]) or '')
        if nudgedAt then redis.call('HDEL', KEYS[9], ARGV[1]) end
        local flat = redis.call('HGETALL', KEYS[1])
        local bf = {}
        for i = 1, #flat, 2 do bf[flat[i]] = flat[i + 1] end
        local state = bf.state
        local conn = redis.call('HMGET', KEYS[11], 'dirty', 'health')
        local dirty = tonumber(conn[1] or '0') or 0
        local lease = redis.call('HMGET', KEYS[3], 'owner', 'expiresAt', 'epoch')
        local free = not lease[1] or lease[1] == '' or tonumber(lease[2]) <= now
        -- Takes the lease: a new epoch (fencing), `news` cleared (this claim reads everything afresh).
        local function take()
          local epoch = (tonumber(lease[3] or '0') or 0) + 1
          local expires = now + tonumber(ARGV[3])
          redis.call('HSET', KEYS[3], 'epoch', epoch, 'owner', ARGV[2], 'expiresAt', expires, 'news', '')
          redis.call('ZADD', KEYS[5], expires, ARGV[1])
          return tostring(epoch)
        end
        if state ~= 'queued' and state ~= 'running' and state ~= 'throttled' then
          -- Nothing to backfill: claim only for a catch-up when a webhook marked the connection dirty, and
          -- not while the connection cannot work (`error`, `waiting_on_parent`, `disconnected`): a push for
          -- it would only call the provider with a refused token. Its marks stay for the reconnect's catch-up.
          local health = conn[2]
          if health == 'error' or health == 'waiting_on_parent' or health == 'disconnected' then
            if not state then return {'none'} end
            return {'idle', state}
          end
          if free and dirty > 0 then return {'catchup', take(), tostring(dirty)} end
          -- Held for a catch-up: the holder queues it again when it lets go (release), for this mail.
          if not free and dirty > 0 then redis.call('HSET', KEYS[3], 'requeue', 1, 'news', 1) end
          if not state then return {'none'} end
          return {'idle', state}
        end
        local at = tonumber(bf.retryAt or '')
        if at and at > now then
          schedule_retry(KEYS[6], KEYS[7], ARGV[1], at)
          return {'wait', tostring(at)}
        end
        if not free then
          redis.call('HSET', KEYS[3], 'requeue', 1, 'news', 1)
          return {'busy'}
        end
        local recovered = '0'
        if lease[1] and lease[1] ~= '' then
          redis.call('HINCRBY', KEYS[10], 'leaseRecoveries', 1)
          recovered = '1'
        end
        local epoch = take()
        if bf.retryAt then
          redis.call('ZREM', KEYS[6], ARGV[1])
          redis.call('HDEL', KEYS[1], 'retryAt')
          bf.retryAt = nil
        end
        local fields = {}
        if not bf.startedAt then
          bf.startedAt = tostring(now)
          fields[#fields + 1] = 'startedAt'
          fields[#fields + 1] = bf.startedAt
        end
        if not bf.rateSince then
          bf.rateSince = tostring(now)
          bf.rateSincePulled = bf.pulled or '0'
          fields[#fields + 1] = 'rateSince'
          fields[#fields + 1] = bf.rateSince
          fields[#fields + 1] = 'rateSincePulled'
          fields[#fields + 1] = bf.rateSincePulled
        end
        set_state(KEYS[1], KEYS[12], 'running', state, fields)
        bf.state = 'running'
        local reply = {'claimed', epoch, nudgedAt and tostring(now - nudgedAt) or '-1', tostring(dirty), recovered}
        for k, v in pairs(bf) do
          reply[#reply + 1] = k
          reply[#reply + 1] = v
        end
        return reply
        """)
}
