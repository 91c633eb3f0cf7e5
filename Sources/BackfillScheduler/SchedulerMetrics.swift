import Metrics

/// The scheduler's metrics, created once. Labels are bounded: never a connection id or an address.
struct SchedulerMetrics: Sendable {
    let pages = Counter(label: "backfill_pages_total")
    let messages = Counter(label: "backfill_messages_pulled_total")
    let realtimeMessages = Counter(label: "backfill_realtime_messages_total")
    let staleCommits = Counter(label: "backfill_stale_commits_refused_total")
    let throttleParks = Counter(label: "backfill_throttle_parks_total")
    let transientFailures = Counter(label: "backfill_transient_failures_total")
    let failures = Counter(label: "backfill_failures_total")
    let completions = Counter(label: "backfill_completions_total")
    let leaseRecoveries = Counter(label: "backfill_lease_recoveries_total")
    let ticks = Counter(label: "backfill_tick_runs_total")
    let nudgeToClaim = Timer(label: "backfill_nudge_to_claim_seconds")
    /// How long new mail waited for real time: from a connection's first notification (or due catch-up) after its
    /// last catch-up to the end of the catch-up that answered it, failed catch-ups between included.
    let catchUpDelay = Timer(label: "backfill_realtime_catch_up_delay_seconds")
}
