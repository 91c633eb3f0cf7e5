import BackfillRedis

/// The scheduler's Lua scripts: every state transition that touches more than one key is one script,
/// loaded once and called by SHA. Times come from Redis (`TIME`), never from an instance's clock.
///
/// Most scripts take the same per-connection key list, `SchedulerKeys.scriptKeys(_:)`:
/// KEYS[1] `bf:{id}`, KEYS[2] `bfhist:{id}`, KEYS[3] `lease:{id}`, KEYS[4] `active`, KEYS[5] `leases`,
/// KEYS[6] `retry`, KEYS[7] `retry:wake`, KEYS[8] `nudges`, KEYS[9] `nudged`, KEYS[10] `stats`,
/// KEYS[11] `conn:{id}`, KEYS[12] `bfcounts`, KEYS[13] `realtime:due`, KEYS[14] `skipped:{id}`, KEYS[15] `realtime:delayed`,
/// KEYS[16] `events`;
/// ARGV[1] is always the connection id. Each script's header says which of them it uses.
///
/// The scripts spell hash fields as literals: those of `bf:{id}` must be `BackfillField`'s, those of `conn:{id}`
/// `ConnectionField`'s (the scheduler tests check both hashes against them on every read), those of an `events`
/// entry `BackfillEventField`'s (the relay decodes every entry with them).
enum SchedulerScripts {
    /// Helpers prepended to every script.
    static let prelude = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- Queues a connection unless it is already queued (nudges coalesce).
        -- `nudged` maps each queued id to its nudge time, for the nudge-to-claim latency (`now`: the time the
        -- caller already read, else read here).
        local function nudge(nudged, nudges, id, now)
          if redis.call('HSETNX', nudged, id, now or now_ms()) == 1 then
            redis.call('RPUSH', nudges, id)
            return 1
          end
          return 0
        end
        -- Sets the backfill's state and keeps `counts` (backfills by state, for /metrics) in step: every
        -- state change goes through here, so the counts never need a scan. `old` is the state the caller
        -- already read in this script (nil: read here); `fields` (a flat list) go into the same HSET.
        local function set_state(bf, counts, new, old, fields)
          if old == nil then old = redis.call('HGET', bf, 'state') end
          fields = fields or {}
          if old ~= new then
            if old then redis.call('HINCRBY', counts, old, -1) end
            redis.call('HINCRBY', counts, new, 1)
            fields[#fields + 1] = 'state'
            fields[#fields + 1] = new
          end
          if #fields > 0 then redis.call('HSET', bf, unpack(fields)) end
        end
        -- The lease's fields a worker-side transition needs, in one read: {epoch, owner, requeue, news}.
        local function read_lease(lease)
          return redis.call('HMGET', lease, 'epoch', 'owner', 'requeue', 'news')
        end
        -- True when `owner` still holds the lease at `epoch` (the fencing check); `l` is `read_lease`'s reply
        -- (nil: read here).
        local function holds(lease, epoch, owner, l)
          l = l or read_lease(lease)
          return l[1] == epoch and l[2] == owner and owner ~= ''
        end
        -- The fencing check of every worker-side transition: false (and a stale commit counted in `stats`)
        -- when the caller no longer holds the lease at its epoch.
        local function fenced(lease, epoch, owner, stats, l)
          if holds(lease, epoch, owner, l) then return true end
          redis.call('HINCRBY', stats, 'staleCommits', 1)
          return false
        end
        -- True when something the holder must look at came while it held the lease (`news`: a pause, cancel
        -- or resume, a notification, a due catch-up, a nudge): its next transition reads the state and the
        -- dirty count instead of taking them as they were at the claim.
        local function has_news(l)
          return l[4] ~= nil and l[4] ~= false and l[4] ~= ''
        end
        -- Frees the lease. A nudge that came while it was held (the claim found it busy and left `requeue`
        -- on the lease) queues the connection again now, so new mail noticed meanwhile is not left waiting.
        -- `l` is `read_lease`'s reply (nil: `requeue` is found out by deleting it).
        local function release(lease, leases, id, nudged, nudges, l)
          redis.call('HSET', lease, 'owner', '', 'expiresAt', 0)
          redis.call('ZREM', leases, id)
          local requeue
          if l then
            requeue = l[3] ~= nil and l[3] ~= false and l[3] ~= ''
            if requeue then redis.call('HDEL', lease, 'requeue') end
          else
            requeue = redis.call('HDEL', lease, 'requeue') == 1
          end
          if requeue then nudge(nudged, nudges, id) end
        end
        -- Puts a connection in a set of due times (the retry set, or realtime:due for catch-ups), waking a
        -- promoter when it is now the earliest entry, so a short wait is not left for the promoter's next look.
        local function schedule_retry(set, wake, id, at)
          local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
          redis.call('ZADD', set, at, id)
          if first[2] == nil or tonumber(first[2]) > at then
            redis.call('DEL', wake)
            redis.call('RPUSH', wake, '1')
          end
        end
        -- Appends a lifecycle event of the backfill in `bf` to the outbox stream `events`, in the same step as its
        -- transition (`EventRelay` records it in the message store). `extra`: a flat list of fields (`pulled`,
        -- `errorCode`). The stream is trimmed, roughly, to the outbox's capacity.
        local function emit(events, bf, kind, id, extra)
          local fields = {'kind', kind, 'connectionId', id, 'backfillId', redis.call('HGET', bf, 'id') or '', 'at', now_ms()}
          for _, value in ipairs(extra or {}) do fields[#fields + 1] = value end
          redis.call('XADD', events, 'MAXLEN', '~', \(EventRelay.outboxCapacity), '*', unpack(fields))
        end
        -- One more on the connection's dirty count (a notification, a due catch-up); the first since the last
        -- catch-up notes when (`dirtySince`), so `clearDirty` can tell how long new mail waited.
        local function mark_dirty(conn, now)
          if redis.call('HINCRBY', conn, 'dirty', 1) == 1 then redis.call('HSET', conn, 'dirtySince', now) end
        end
        -- Runs a backfill now, or at its retryAt if the provider asked to wait.
        local function wake_up(bf, retry, wake, nudged, nudges, id, now)
          local at = tonumber(redis.call('HGET', bf, 'retryAt') or '')
          if at and at > now then
            schedule_retry(retry, wake, id, at)
          else
            nudge(nudged, nudges, id)
          end
        end

        """

    static func make(_ name: String, _ body: String) -> RedisScript {
        RedisScript(name: name, source: prelude + body)
    }
}
