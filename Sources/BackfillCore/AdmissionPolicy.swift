/// Every number that decides when one provider request may go, how often it is sent again, and how long a
/// throttle is waited out: the one place they live. `MailboxAdmission` applies them; the scheduler's
/// `RetryPolicy` decides what happens to a page once a request gives up.
///
/// One request is sent at most `throttleSends` times when throttled (a longer wait parks the backfill), at most
/// `serverErrorSends` times on server errors, and once more after a refused token (refreshed first).
public struct AdmissionPolicy: Sendable, Equatable {
    /// Requests in flight per mailbox, across every instance (Graph refuses a fifth concurrent request to a
    /// mailbox; Gmail's fetches gain nothing past it). The shared request slots hold this bound.
    public static let requestsInFlightPerMailbox = 4
    /// Gmail's calls in flight per user, across every instance: its per-user concurrency cap (about 10 reported;
    /// a breach is a 429 "Too many concurrent requests for user", per call inside a batch). Each call of a batch
    /// counts, so one batch of this many fills it.
    public static let gmailCallsInFlightPerMailbox = 10
    /// The wait after a throttle that names none (Gmail's quota refusals, a token endpoint's 429), doubled for
    /// each further throttle of the same request.
    public static let defaultRetryAfter: Duration = .seconds(1)
    /// Gmail's per-user quota, in units a minute.
    public static let gmailQuotaUnitsPerMinute = 15_000
    /// The share of a quota spent, in percent: the provider's window and this process's clock never line up
    /// exactly.
    public static let quotaPacingPercent = 97

    /// The units a minute actually spent of a quota of `unitsPerMinute`.
    public static func pacedUnitsPerMinute(_ unitsPerMinute: Int) -> Int {
        max(unitsPerMinute * quotaPacingPercent / 100, 1)
    }

    /// Requests in flight per mailbox in this process when no throttle was seen lately.
    public var maxConcurrent: Int
    /// Quota units to spend at most per `quotaWindow`, per mailbox; nil: no quota pacing.
    public var unitsPerMinute: Int?
    /// The trailing window the quota counts over (a minute for Gmail; tests shorten it).
    public var quotaWindow: Duration
    /// Waits up to this long (a Retry-After, the quota) are waited out in place; longer ones park the backfill
    /// instead of holding its lease.
    public var longestInlineWait: Duration
    /// Sends of one request, the first included, before a throttle is left to the scheduler.
    public var throttleSends: Int
    /// Sends of one request answered by a server error (5xx without Retry-After), the first included: both
    /// providers ask clients to retry those with backoff, and a page of a hundred Gmail fetches would otherwise
    /// rarely finish at a 2% error rate.
    public var serverErrorSends: Int
    /// The wait before the second send after a server error, doubled for each further one.
    public var serverErrorBackoff: Duration
    /// Successes in a row after which a mailbox that was throttled goes back to `maxConcurrent`.
    public var calmAfter: Int

    public init(
        maxConcurrent: Int = AdmissionPolicy.requestsInFlightPerMailbox, unitsPerMinute: Int? = nil,
        quotaWindow: Duration = .seconds(60), longestInlineWait: Duration = .seconds(5), throttleSends: Int = 6,
        serverErrorSends: Int = 3, serverErrorBackoff: Duration = .milliseconds(500), calmAfter: Int = 20
    ) {
        self.maxConcurrent = max(maxConcurrent, 1)
        self.unitsPerMinute = unitsPerMinute
        self.quotaWindow = quotaWindow
        self.longestInlineWait = longestInlineWait
        self.throttleSends = max(throttleSends, 1)
        self.serverErrorSends = max(serverErrorSends, 1)
        self.serverErrorBackoff = serverErrorBackoff
        self.calmAfter = calmAfter
    }

    /// The wait after the `throttles`-th throttle in a row of one request (1-based) that named no time.
    public static func unnamedRetryAfter(throttles: Int) -> Duration {
        defaultRetryAfter * (1 << min(max(throttles - 1, 0), 10))
    }
}
