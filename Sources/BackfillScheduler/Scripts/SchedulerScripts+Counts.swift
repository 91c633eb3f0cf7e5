import BackfillRedis

extension SchedulerScripts {
    /// Counts every connection's backfill by state into `bfcounts` anew, atomically (run at each startup, so
    /// counts an older version left behind, or a drift, are healed). The scripts keep the counts from
    /// then on (`set_state`). O(connections) in one call: about 100 ms at 100,000 connections.
    /// It builds each `bf:{id}` key from ARGV[1], so unlike the others it is not cluster-safe: on Redis Cluster
    /// it would run per hash slot or be replaced by a scan from the instance.
    /// KEYS: 1 connections, 2 bfcounts. ARGV: 1 the backfill key's prefix (`P:bf:`).
    /// Replies: the number of backfills counted.
    static let recountStates = make("recountStates", """
        redis.call('DEL', KEYS[2])
        local counted = 0
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          local state = redis.call('HGET', ARGV[1] .. '{' .. id .. '}', 'state')
          if state then
            redis.call('HINCRBY', KEYS[2], state, 1)
            counted = counted + 1
          end
        end
        return counted
        """)
}
