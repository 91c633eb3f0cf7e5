import BackfillCore
import BackfillRedis

extension SchedulerScripts {
    /// Applies a user or support command. Whether it moves, leaves or refuses a backfill is decided by the core's
    /// table, `BackfillCommand.outcome(in:)`, written into the script as a Lua table (`commandTable`): one table,
    /// generated once; the script adds only what each move writes.
    /// A move's event (`paused`, `resumed`, `cancelled`, `retried`: `BackfillCommand.event`) goes to the outbox.
    /// KEYS: 1 bf, 3 lease, 4 active, 6 retry, 7 retry:wake, 8 nudges, 9 nudged, 12 bfcounts, 16 events.
    /// ARGV: 1 connection id, 2 command `pause`|`resume`|`cancel`|`retry`, 3 the event a move records.
    /// Replies: {'moved', newState} | {'unchanged', state} | {'refused', state} | {'missing'}.
    /// A move leaves `news` on the lease, so a worker holding it reads the state at its next commit and stops
    /// there on a pause or cancel (its commits take the state as it was at the claim otherwise).
    static let command = make("command", commandTable + """
        local now = now_ms()
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state then return {'missing'} end
        local cmd = ARGV[2]
        local outcome = outcomes[cmd] and outcomes[cmd][state]
        if outcome == nil then return {'refused', state} end
        if outcome == true then return {'unchanged', state} end
        set_state(KEYS[1], KEYS[12], outcome)
        if cmd == 'pause' then
          redis.call('ZREM', KEYS[6], ARGV[1])
        elseif cmd == 'resume' then
          redis.call('HDEL', KEYS[1], 'rateSince', 'rateSincePulled')
          wake_up(KEYS[1], KEYS[6], KEYS[7], KEYS[9], KEYS[8], ARGV[1], now)
        elseif cmd == 'cancel' then
          redis.call('HSET', KEYS[1], 'completedAt', now)
          redis.call('ZREM', KEYS[6], ARGV[1])
          redis.call('SREM', KEYS[4], ARGV[1])
        elseif cmd == 'retry' then
          redis.call('HSET', KEYS[1], 'attempts', 0)
          redis.call('HDEL', KEYS[1], 'errorCode', 'errorMessage', 'errorRetryable', 'completedAt',
            'rateSince', 'rateSincePulled')
          redis.call('SADD', KEYS[4], ARGV[1])
          wake_up(KEYS[1], KEYS[6], KEYS[7], KEYS[9], KEYS[8], ARGV[1], now)
        end
        redis.call('HSET', KEYS[3], 'news', 1)
        emit(KEYS[16], KEYS[1], ARGV[3], ARGV[1])
        return {'moved', outcome}
        """)

    /// `BackfillCommand.outcome(in:)` for every command and state, as Lua: `outcomes[command][state]` is the new
    /// state of a move, `true` when the command leaves the state as it is, nil when it refuses.
    static let commandTable: String = {
        let rows = BackfillCommand.allCases.map { command in
            let cells = BackfillState.allCases.compactMap { state -> String? in
                switch command.outcome(in: state) {
                case .moves(let to): "['\(state.rawValue)'] = '\(to.rawValue)'"
                case .unchanged: "['\(state.rawValue)'] = true"
                case .refused: nil
                }
            }
            return "  \(command.rawValue) = {\(cells.joined(separator: ", "))}"
        }
        return "local outcomes = {\n" + rows.joined(separator: ",\n") + "\n}\n"
    }()

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
