import BackfillCore

/// How one scheduler instance behaves. Defaults suit production; tests shorten the periods.
public struct SchedulerConfiguration: Sendable {
    /// Prefix of every Redis key (see `SchedulerKeys`).
    public var keyPrefix: String = "backfill"
    /// This instance's name in leases and logs; unique per process.
    public var instanceId: String
    /// Connections this instance works on at once.
    public var workerConcurrency: Int = 8
    /// How long a lease lasts without a commit before another instance may take the connection.
    public var leaseDuration: Duration = .seconds(30)
    /// A commit renews the lease (a lease duration from then) when this long has passed since the claim or
    /// the last renewal, not each time: a page's commit then costs Redis three commands. After any commit
    /// the lease has at least `leaseDuration - leaseRenewalInterval` to run (29 s by default).
    public var leaseRenewalInterval: Duration { leaseDuration / 30 }
    /// A worker yields the connection after this many pages or this long, so big mailboxes share.
    public var slicePages: Int = 20
    public var sliceDuration: Duration = .seconds(20)
    /// How often the auditor looks for leases that expired without a commit (killed workers).
    public var auditPeriod: Duration = .seconds(10)
    /// A connection marked nudged this long that is no longer in the nudge queue was popped by a worker
    /// that died before claiming it; the auditor queues it again. A worker claims within milliseconds of
    /// its pop, and a spare copy in the queue is harmless (its claim finds the lease busy or the work done),
    /// so this is short enough that a killed worker's connection resumes within a minute.
    public var lostNudgeAfter: Duration = .seconds(30)
    /// The safety-net tick: nudges every unfinished backfill, renews subscriptions, flags stalls.
    public var tickPeriod: Duration = .seconds(3600)
    /// A running backfill with no progress for this long is flagged stalled.
    public var stallAfter: Duration = .seconds(300)
    /// The longest an idle blocking wait lasts before it looks at shutdown again.
    public var idleWait: Duration = .seconds(2)
    /// Backoff for failures other than throttling.
    public var retryPolicy = RetryPolicy()
    /// A killed worker's request slot comes back by itself after at most this long. A running request
    /// renews its slot every third of it, so a slow request keeps its slot however long it takes.
    public var requestSlotLifetime: Duration = .seconds(15)

    /// How often a mailbox without a push channel is caught up (each time jittered by ±10%, so mailboxes
    /// connected together spread out). New mail reaches the store within about this, plus a page time.
    public var pollPeriod: Duration = .seconds(60)
    /// A mailbox with a push channel is caught up anyway when no notification came for this long:
    /// providers drop notifications now and then.
    public var pushSafetyPeriod: Duration = .seconds(1800)
    /// After a catch-up failed for a passing reason (5xx, throttling), the next one comes this much later,
    /// doubling with each failure in a row up to `pollPeriod` (a throttle waits its Retry-After instead).
    public var catchUpRetryDelay: Duration = .seconds(5)

    public init(instanceId: String) {
        self.instanceId = instanceId
    }
}

extension Duration {
    /// Whole milliseconds, for Redis arguments.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
