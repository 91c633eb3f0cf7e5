import BackfillRedis

extension SchedulerScripts {
    /// Queues connections on the nudge queue, each at most once.
    /// KEYS: 1 nudged, 2 nudges. ARGV: connection ids. Replies: how many were newly queued.
    static let nudge = make("nudge", """
        local queued = 0
        for i = 1, #ARGV do queued = queued + nudge(KEYS[1], KEYS[2], ARGV[i]) end
        return queued
        """)

    /// A provider notification: one more on the connection's dirty count, and a nudge only when no worker
    /// holds the lease. A holder catches up anyway (`news` makes its next commit read the count, and its
    /// release queues the connection again through `requeue`), so a flood of notifications during a catch-up
    /// pushes one nudge, not one per notification.
    /// KEYS: 1 conn:{id}, 2 lease:{id}, 3 nudged, 4 nudges. ARGV: 1 connection id.
    /// Replies: -1 (no such connection) | 0 (left to the lease holder, or already queued) | 1 (queued).
    static let notify = make("notify", """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local now = now_ms()
        mark_dirty(KEYS[1], now)
        local lease = redis.call('HMGET', KEYS[2], 'owner', 'expiresAt')
        if lease[1] and lease[1] ~= '' and tonumber(lease[2] or '0') > now then
          redis.call('HSET', KEYS[2], 'requeue', 1, 'news', 1)
          return 0
        end
        return nudge(KEYS[3], KEYS[4], ARGV[1], now)
        """)

    /// Marks new mail as possibly waiting without waking anyone (the tests' stand-in for a notification whose
    /// nudge is left out): one more on the dirty count.
    /// KEYS: 1 conn:{id}. Replies: 1 | 0 (no such connection).
    static let markDirty = make("markDirty", """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        mark_dirty(KEYS[1], now_ms())
        return 1
        """)

    /// Moves due entries of the retry set to the nudge queue.
    /// KEYS: 1 retry, 2 nudged, 3 nudges. ARGV: 1 most entries to move.
    /// Replies: {moved, next due time in ms or -1, Redis now in ms}.
    static let promote = make("promote", """
        local now = now_ms()
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
        for _, id in ipairs(due) do
          redis.call('ZREM', KEYS[1], id)
          nudge(KEYS[2], KEYS[3], id)
        end
        local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return {#due, nxt[2] or '-1', tostring(now)}
        """)

    /// Starts the catch-ups that are due (`realtime:due`): marks each connection dirty and nudges it (a
    /// lease holder is left to catch up and queue it again, as with a notification). Each entry is put
    /// back `ARGV[2]` ms later, so a catch-up that never reports (a killed worker) comes round again; one
    /// that ends reschedules itself exactly (`clearDirty`, `catchUpFailed`). A connection that no longer
    /// exists, or is in `error`, `waiting_on_parent` or `disconnected`, is dropped. It builds `conn:{id}`
    /// and `lease:{id}` keys from ARGV[3] and ARGV[4], so on Redis Cluster it would run per hash slot.
    /// KEYS: 1 realtime:due, 2 nudged, 3 nudges. ARGV: 1 most entries, 2 re-arm delay (ms), 3 `P:conn:`, 4 `P:lease:`.
    /// Replies: {started, next due time in ms or -1, Redis now in ms}.
    static let dueCatchUps = make("dueCatchUps", """
        local now = now_ms()
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
        for _, id in ipairs(due) do
          local conn = ARGV[3] .. '{' .. id .. '}'
          local health = redis.call('HGET', conn, 'health')
          if redis.call('EXISTS', conn) == 0 or health == 'error' or health == 'waiting_on_parent' or health == 'disconnected' then
            -- Gone, or unable to work until a reconnect (which schedules it again): the claim would refuse it.
            redis.call('ZREM', KEYS[1], id)
          else
            redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
            mark_dirty(conn, now)
            local lease = ARGV[4] .. '{' .. id .. '}'
            local held = redis.call('HMGET', lease, 'owner', 'expiresAt')
            if held[1] and held[1] ~= '' and tonumber(held[2] or '0') > now then
              redis.call('HSET', lease, 'requeue', 1, 'news', 1)
            else
              nudge(KEYS[2], KEYS[3], id)
            end
          end
        end
        local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
        return {#due, nxt[2] or '-1', tostring(now)}
        """)

    /// Nudges connections whose lease expired without a commit (a killed worker).
    /// KEYS: 1 leases, 2 nudged, 3 nudges. ARGV: 1 most entries. Replies: how many were found.
    static let audit = make("audit", """
        local now = now_ms()
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
        for _, id in ipairs(expired) do
          redis.call('ZREM', KEYS[1], id)
          nudge(KEYS[2], KEYS[3], id)
        end
        return #expired
        """)

    /// Queues again the connections whose nudge was lost: popped off the queue by a worker that died before
    /// its claim (the claim clears the `nudged` mark). Their mark stays, so every later nudge of them would
    /// be a no-op, the auditor's and the tick's included. A mark older than the age that is not in the queue
    /// is such a one; it keeps its nudge time (the nudge-to-claim latency counts the loss).
    /// KEYS: 1 nudged, 2 nudges, 3 stats. ARGV: 1 age (ms). Replies: how many were queued again (counted
    /// in stats `lostNudges`).
    static let requeueLost = make("requeueLost", """
        local before = now_ms() - tonumber(ARGV[1])
        local flat = redis.call('HGETALL', KEYS[1])
        local old = {}
        for i = 1, #flat, 2 do
          local at = tonumber(flat[i + 1])
          if at and at <= before then old[#old + 1] = flat[i] end
        end
        if #old == 0 then return 0 end
        local queued = {}
        for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do queued[id] = true end
        local lost = 0
        for _, id in ipairs(old) do
          if not queued[id] then
            redis.call('RPUSH', KEYS[2], id)
            lost = lost + 1
          end
        end
        if lost > 0 then redis.call('HINCRBY', KEYS[3], 'lostNudges', lost) end
        return lost
        """)

    /// Claims a periodic tick: exactly one caller wins each tick id, and a tick id at or below the last
    /// one run is refused (after downtime only the current tick runs: one catch-up, not one per hour).
    /// KEYS: 1 tick, 2 tick:log, 3 stats. ARGV: 1 tick id, 2 owner. Replies: 1 (run it) | 0.
    static let tick = make("tick", """
        local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '-1')
        if last >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'last', ARGV[1], 'at', now_ms(), 'owner', ARGV[2])
        redis.call('LPUSH', KEYS[2], ARGV[1] .. ' ' .. ARGV[2])
        redis.call('LTRIM', KEYS[2], 0, 99)
        redis.call('HINCRBY', KEYS[3], 'ticks', 1)
        return 1
        """)
}

extension SchedulerScripts {
    /// A personal connection's token stopped working: each shared mailbox under it (not disconnected) shows
    /// `waiting_on_parent` with the message that names the parent, and is not caught up until the parent is
    /// reconnected (`MailboxConnector` schedules them again). Builds `conn:{child}` keys from ARGV[1], so on
    /// Redis Cluster it would run per child.
    /// KEYS: 1 children:{parent}, 2 realtime:due. ARGV: 1 `P:conn:`, 2 the message. Replies: children marked.
    static let childrenWait = make("childrenWait", """
        local marked = 0
        for _, child in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          local conn = ARGV[1] .. '{' .. child .. '}'
          local health = redis.call('HGET', conn, 'health')
          if health and health ~= 'disconnected' then
            redis.call('HSET', conn, 'health', 'waiting_on_parent', 'errorCode', 'waiting_on_parent', 'errorMessage', ARGV[2])
            redis.call('ZREM', KEYS[2], child)
            marked = marked + 1
          end
        end
        return marked
        """)
}
