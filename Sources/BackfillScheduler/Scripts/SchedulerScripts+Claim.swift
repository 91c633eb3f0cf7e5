import BackfillRedis

extension SchedulerScripts {
    /// Takes the connection's lease if it is free or expired and the backfill is runnable and due.
    /// Also takes the connection off the nudge queue's set, so a later nudge queues it again.
    /// KEYS: 1 bf, 3 lease, 5 leases, 6 retry, 7 retry:wake, 9 nudged, 10 stats.
    /// ARGV: 1 connection id, 2 owner, 3 lease duration (ms).
    /// Replies: {'claimed', epoch, ms since the nudge (or -1), field1, value1, ...} (the backfill hash) |
    ///          {'none'} (no backfill) |
    ///          {'idle', state} (not runnable) | {'wait', retryAt} (not due yet) | {'busy'} (lease held).
    static let claim = make("claim", """
        local now = now_ms()
        local nudgedAt = tonumber(redis.call('HGET', KEYS[9], ARGV[1]) or '')
        redis.call('HDEL', KEYS[9], ARGV[1])
        local bf = redis.call('HMGET', KEYS[1], 'state', 'retryAt')
        local state = bf[1]
        if not state then return {'none'} end
        if state ~= 'queued' and state ~= 'running' and state ~= 'throttled' then return {'idle', state} end
        local at = tonumber(bf[2] or '')
        if at and at > now then
          schedule_retry(KEYS[6], KEYS[7], ARGV[1], at)
          return {'wait', tostring(at)}
        end
        local lease = redis.call('HMGET', KEYS[3], 'owner', 'expiresAt')
        if lease[1] and lease[1] ~= '' then
          if tonumber(lease[2]) > now then return {'busy'} end
          redis.call('HINCRBY', KEYS[10], 'leaseRecoveries', 1)
        end
        local epoch = redis.call('HINCRBY', KEYS[3], 'epoch', 1)
        local expires = now + tonumber(ARGV[3])
        redis.call('HSET', KEYS[3], 'owner', ARGV[2], 'expiresAt', expires)
        redis.call('ZADD', KEYS[5], expires, ARGV[1])
        redis.call('ZREM', KEYS[6], ARGV[1])
        redis.call('HDEL', KEYS[1], 'retryAt')
        redis.call('HSET', KEYS[1], 'state', 'running')
        if not redis.call('HGET', KEYS[1], 'startedAt') then redis.call('HSET', KEYS[1], 'startedAt', now) end
        if not redis.call('HGET', KEYS[1], 'rateSince') then
          redis.call('HSET', KEYS[1], 'rateSince', now, 'rateSincePulled', redis.call('HGET', KEYS[1], 'pulled'))
        end
        local reply = {'claimed', tostring(epoch), nudgedAt and tostring(now - nudgedAt) or '-1'}
        for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do reply[#reply + 1] = v end
        return reply
        """)
}
