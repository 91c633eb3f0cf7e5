import BackfillRedis

extension SchedulerScripts {
    /// Lists messages the provider refused to serve (or forgets ones stored after all) and keeps the backfill's
    /// `skipped` count equal to the list's length. Not fenced: listing the same message twice changes nothing.
    /// KEYS: 1 bf, 14 skipped.
    /// ARGV: 1 connection id, 2 `add` or `forget`, then for `add` pairs of provider message id and entry (JSON),
    ///       for `forget` provider message ids.
    /// Replies: the list's length.
    static let skipped = make("skipped", """
        if ARGV[2] == 'add' then
          for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[14], ARGV[i], ARGV[i + 1]) end
        else
          for i = 3, #ARGV do redis.call('HDEL', KEYS[14], ARGV[i]) end
        end
        local count = redis.call('HLEN', KEYS[14])
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'skipped', count) end
        return count
        """)
}
