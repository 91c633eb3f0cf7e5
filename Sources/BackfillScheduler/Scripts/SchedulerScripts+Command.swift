import BackfillRedis

extension SchedulerScripts {
    /// Applies a user or support command; the same table as `BackfillCommand.outcome(in:)` in the core.
    /// KEYS: 1 bf, 3 lease, 4 active, 6 retry, 7 retry:wake, 8 nudges, 9 nudged, 12 bfcounts.
    /// ARGV: 1 connection id, 2 command `pause`|`resume`|`cancel`|`retry`.
    /// Replies: {'moved', newState} | {'unchanged', state} | {'refused', state} | {'missing'}.
    /// A move leaves `news` on the lease, so a worker holding it reads the state at its next commit and stops
    /// there on a pause or cancel (its commits take the state as it was at the claim otherwise).
    static let command = make("command", """
        local now = now_ms()
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state then return {'missing'} end
        local cmd = ARGV[2]
        local function moved(new)
          redis.call('HSET', KEYS[3], 'news', 1)
          return {'moved', new}
        end
        local live = state == 'queued' or state == 'running' or state == 'throttled' or state == 'waiting_on_parent'
        if cmd == 'pause' then
          if live then
            set_state(KEYS[1], KEYS[12], 'paused')
            redis.call('ZREM', KEYS[6], ARGV[1])
            return moved('paused')
          end
          if state == 'paused' then return {'unchanged', state} end
        elseif cmd == 'resume' then
          if state == 'paused' then
            set_state(KEYS[1], KEYS[12], 'queued')
            redis.call('HDEL', KEYS[1], 'rateSince', 'rateSincePulled')
            wake_up(KEYS[1], KEYS[6], KEYS[7], KEYS[9], KEYS[8], ARGV[1], now)
            return moved('queued')
          end
          if live then return {'unchanged', state} end
        elseif cmd == 'cancel' then
          if live or state == 'paused' then
            set_state(KEYS[1], KEYS[12], 'cancelled')
            redis.call('HSET', KEYS[1], 'completedAt', now)
            redis.call('ZREM', KEYS[6], ARGV[1])
            redis.call('SREM', KEYS[4], ARGV[1])
            return moved('cancelled')
          end
        elseif cmd == 'retry' then
          if state == 'failed' then
            set_state(KEYS[1], KEYS[12], 'queued')
            redis.call('HSET', KEYS[1], 'attempts', 0)
            redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable', 'completedAt',
              'rateSince', 'rateSincePulled')
            redis.call('SADD', KEYS[4], ARGV[1])
            wake_up(KEYS[1], KEYS[6], KEYS[7], KEYS[9], KEYS[8], ARGV[1], now)
            return moved('queued')
          end
          if state == 'queued' or state == 'running' then return {'unchanged', state} end
        end
        return {'refused', state}
        """)

    /// Moves a backfill that waited on its parent connection back to the queue (the parent reconnected).
    /// KEYS: 1 bf, 6 retry, 7 retry:wake, 8 nudges, 9 nudged, 12 bfcounts. ARGV: 1 connection id.
    /// Replies: {'moved', 'queued'} | {'unchanged', state} | {'missing'}.
    static let parentBack = make("parentBack", """
        local now = now_ms()
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state then return {'missing'} end
        if state ~= 'waiting_on_parent' then return {'unchanged', state} end
        set_state(KEYS[1], KEYS[12], 'queued')
        redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable')
        wake_up(KEYS[1], KEYS[6], KEYS[7], KEYS[9], KEYS[8], ARGV[1], now)
        return {'moved', 'queued'}
        """)
}
