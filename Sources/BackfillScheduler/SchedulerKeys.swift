/// Every Redis key the scheduler uses, in one place. All derive from one configurable prefix;
/// per-connection keys carry the connection id in a hash tag (`{id}`) so they could move to a cluster.
///
/// | key | type | holds |
/// |---|---|---|
/// | `P:bf:{id}` | hash | the connection's current backfill: `id state range windowStart windowEnd cursor pagesDone pulled estimatedTotal prepared createdAt startedAt lastProgressAt completedAt retryAt rateSince rateSincePulled errorCode errorMessage errorRetryable attempts throttles pages stalled` (times in ms since 1970) |
/// | `P:bfhist:{id}` | list | past backfills of the connection as JSON, newest first, at most 10 |
/// | `P:lease:{id}` | hash | `owner` (instance/worker id, empty when free), `epoch` (fencing token, only ever increases), `expiresAt` (ms), `requeue` (a nudge came while it was held: its release queues the connection again), `news` (something the holder must look at came while it was held: a pause, cancel or resume, a notification, a due catch-up, a nudge; its next commit reads the state and the dirty count, which it otherwise takes as its claim read them, and clears it; a claim clears it too) |
/// | `P:slots:{id}` | zset | provider requests in flight for the mailbox: permit id → expiry (ms); a running request renews its permit, so only a killed holder's permit expires |
/// | `P:gate:{id}` | string | the mailbox's Retry-After gate: the not-before time (ms, Redis's clock), set with PX so it is gone once open; every instance reads it before each provider request |
/// | `P:active` | set | connections whose backfill is not finished (the hourly tick nudges them) |
/// | `P:leases` | zset | connection id → lease expiry (ms), for the auditor |
/// | `P:retry` | zset | connection id → `retryAt` (ms): throttled or backing off |
/// | `P:retry:wake` | list | a token pushed when an earlier `retryAt` arrives, to wake a promoter |
/// | `P:nudges` | list | the nudge queue of connection ids (workers block on it) |
/// | `P:nudged` | hash | id → nudge time (ms) of the ids in `P:nudges` or popped and not yet claimed (the claim removes it): a connection is queued at most once; the auditor queues again an id marked longer than `lostNudgeAfter` (30 s) that is not in the queue (its worker died between pop and claim) |
/// | `P:tick` | hash | `last` (the last hourly tick id run), `at` (ms), `owner`; `P:tick:log` list of recent `tickId owner` |
/// | `P:conn:{id}` | hash | the connection: `id provider address parentId health errorCode errorMessage createdAt credentials` (sealed), `auth` (`app` for a Microsoft 365 mailbox read with the service's own app token, client credentials: no `credentials`, no `parentId`; absent: delegated tokens), `dirty` (notifications not yet caught up: each webhook adds one, a worker subtracts what its finished catch-up answered) and `dirtySince` (ms: the first of them since the last catch-up, for `backfill_realtime_catch_up_delay_seconds`), `realtimeMode` (`push`/`poll`, set by the subscription keeper), `channelExpiresAt` (ms), `lastCatchUpAt` (ms), `catchUpFailures` (failed catch-ups in a row) with the latest's `catchUpErrorCode`, `catchUpErrorMessage` and the next one's `catchUpRetryAt` (ms), all removed by a catch-up that succeeds |
/// | `P:sync:{id}` | hash | the provider's real-time state (delta links, history id, subscription), opaque to the scheduler |
/// | `P:conn:index` | hash | `provider:address` (address lower-cased) → connection id, so a reconnect keeps its id |
/// | `P:connections` | set | every connection id |
/// | `P:conn:order` | zset | every connection as `{createdAt ms, 15 digits}:{id}`, all at score 0, so `ZRANGE BYLEX` pages them in the order they were connected (`GET /v1/connections`) |
/// | `P:sub:index` | hash | Graph subscription id → connection id |
/// | `P:children:{id}` | set | shared-mailbox connections that borrow this personal connection's token |
/// | `P:oauth:{state}` | string | a connect flow under way (BackfillServer's `OAuthConnect`): `{provider}:{PKCE verifier}`, expiring after 10 minutes, read and deleted at once by the callback |
/// | `P:oauth:pending` | zset | connect flows under way: state → expiry (ms); at most `OAuthConnect.maximumPendingSignIns` (a refused start keeps nothing) |
/// | `P:realtime:due` | zset | connection id → when its next real-time catch-up is due (ms): a poll period after the last for a mailbox without a push channel, a safety period for one with, sooner after a failed catch-up; the promoter starts what is due. Not in it: connections in `error`, `waiting_on_parent` or `disconnected` |
/// | `P:realtime:delayed` | set | connection ids whose catch-ups failed `RealtimeFailing.shownAfter` times in a row or more for a passing reason (new mail is late); removed by a catch-up that succeeds, a refusal, a disconnect. `/metrics` shows its size |
/// | `P:renewals` | zset | connection id → when its push channel (Graph subscription, Gmail watch) is to be renewed (ms); the tick renews only what is due |
/// | `P:bfcounts` | hash | backfill state → how many backfills are in it (`/metrics`); kept by every script that changes a state (`set_state`), recounted at each startup |
/// | `P:events` | stream | the lifecycle events' outbox: each entry (`kind connectionId backfillId at`, and `pulled` or `errorCode`; fields as `BackfillEventField`) is added by the script that makes the transition, in the same step; `EventRelay` (every instance) records entries in the message store, each once by its entry id, then deletes them. Trimmed to about `EventRelay.outboxCapacity` entries should the store refuse them for long |
/// | `P:stats` | hash | counters shared by all instances: `staleCommits leaseRecoveries ticks throttleParks lostNudges` |
struct SchedulerKeys: Sendable {
    let prefix: String

    init(prefix: String = "backfill") {
        self.prefix = prefix
    }

    func backfill(_ id: String) -> String { "\(prefix):bf:{\(id)}" }
    func history(_ id: String) -> String { "\(prefix):bfhist:{\(id)}" }
    func lease(_ id: String) -> String { "\(prefix):lease:{\(id)}" }
    func slots(_ id: String) -> String { "\(prefix):slots:{\(id)}" }
    func gate(_ id: String) -> String { "\(prefix):gate:{\(id)}" }
    func skipped(_ id: String) -> String { "\(prefix):skipped:{\(id)}" }
    func connection(_ id: String) -> String { "\(prefix):conn:{\(id)}" }
    func sync(_ id: String) -> String { "\(prefix):sync:{\(id)}" }
    func children(_ id: String) -> String { "\(prefix):children:{\(id)}" }
    func oauthState(_ state: String) -> String { "\(prefix):oauth:{\(state)}" }
    var oauthPending: String { "\(prefix):oauth:pending" }
    var connectionIndex: String { "\(prefix):conn:index" }
    var subscriptionIndex: String { "\(prefix):sub:index" }
    var connections: String { "\(prefix):connections" }
    var connectionOrder: String { "\(prefix):conn:order" }
    var active: String { "\(prefix):active" }
    var leases: String { "\(prefix):leases" }
    var retry: String { "\(prefix):retry" }
    var retryWake: String { "\(prefix):retry:wake" }
    var nudges: String { "\(prefix):nudges" }
    var nudged: String { "\(prefix):nudged" }
    var tick: String { "\(prefix):tick" }
    var tickLog: String { "\(prefix):tick:log" }
    var stats: String { "\(prefix):stats" }
    var realtimeDue: String { "\(prefix):realtime:due" }
    var realtimeDelayed: String { "\(prefix):realtime:delayed" }
    var auditDue: String { "\(prefix):audit:due" }
    var renewals: String { "\(prefix):renewals" }
    var events: String { "\(prefix):events" }
    /// The key list most scripts take for one connection (`SchedulerScripts`' header numbers them).
    func scriptKeys(_ id: String) -> [String] {
        [backfill(id), history(id), lease(id), active, leases, retry, retryWake, nudges, nudged, stats, connection(id),
         stateCounts, realtimeDue, skipped(id), realtimeDelayed, events]
    }

    /// The start of every `connection(_:)` and `lease(_:)` key, for scripts over many connections.
    var connectionPrefix: String { "\(prefix):conn:" }
    var leasePrefix: String { "\(prefix):lease:" }
    var stateCounts: String { "\(prefix):bfcounts" }
    /// The start of every `backfill(_:)` key, for the recount script.
    var backfillPrefix: String { "\(prefix):bf:" }
}
