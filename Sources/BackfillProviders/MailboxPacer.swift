import BackfillCore
import BackfillHTTP

/// Paces one process's requests per mailbox (the lease means one process works on a mailbox at a time):
///
/// - a "not before" gate (`RetryGate`, shared by every instance): once a mailbox is told to wait
///   (Retry-After), none of its requests leaves before that time, from this process or another one that
///   takes the connection over; a throttled request whose wait is short is sent again after it, a bounded
///   number of times, so one throttled request does not cost a whole page;
/// - single file after a throttle: requests already on the wire when a throttle is answered cannot be
///   recalled, so after one the mailbox sends one request at a time until `calmAfter` successes in a row;
/// - an optional quota (units per minute, Gmail's per-user quota), accounted as the provider does (units
///   sent in the trailing minute): a request that would overdraw it waits until enough has slid out, so
///   requests are spread over the minute instead of running into quota refusals.
actor MailboxPacer {
    struct Policy: Sendable {
        /// Requests in flight per mailbox in this process when no throttle was seen lately.
        var maxConcurrent: Int
        /// Quota units to spend at most per `quotaWindow`, per mailbox; nil: no quota pacing.
        var unitsPerMinute: Int?
        /// The trailing window the quota counts over (a minute for Gmail; tests shorten it).
        var quotaWindow: Duration = .seconds(60)
        /// Throttles with a wait up to this long are waited out here; longer ones park the backfill.
        var longestInlineWait: Duration = .seconds(5)
        /// Sends of one request, the first included, before a throttle is left to the scheduler.
        var attempts: Int = 6
        /// The wait after a throttle that names none (Gmail's quota refusals), doubled per attempt.
        var defaultWait: Duration = .seconds(1)
        /// Sends of one request answered by a server error (5xx, no Retry-After), the first included: both
        /// providers ask clients to retry those with backoff, and a page of a hundred Gmail fetches would
        /// otherwise rarely finish at a 2% error rate.
        var transientAttempts: Int = 3
        /// The wait before the second send after a server error, doubled for each further one.
        var transientWait: Duration = .milliseconds(500)
        /// Successes in a row after which a mailbox goes back to `maxConcurrent`.
        var calmAfter: Int = 20
    }

    private struct MailboxState {
        var inFlight = 0
        var singleFile = false
        /// This process's own copy of the gate, set the moment a throttle is seen, before the shared gate is
        /// written: a request admitted while that write is on its way to Redis still waits.
        var closedUntil: ContinuousClock.Instant?
        var successesInARow = 0
        /// Quota units by send time (some in the future: reserved by requests waiting for room), oldest first.
        var spent: [(at: ContinuousClock.Instant, units: Int)] = []
        var spentTotal = 0
        var waiters: [CheckedContinuation<Void, Never>] = []

        var isIdle: Bool { inFlight == 0 && waiters.isEmpty }
    }

    private let policy: Policy
    private let gate: any RetryGate
    private let metrics: ProviderRequestMetrics
    private let clock = ContinuousClock()
    private var mailboxes: [String: MailboxState] = [:]

    init(_ policy: Policy, gate: any RetryGate, metrics: ProviderRequestMetrics) {
        self.policy = policy
        self.gate = gate
        self.metrics = metrics
    }

    /// Sends `request` when the mailbox's gate, concurrency and quota allow, and waits out short throttles.
    /// - Parameters:
    ///   - cost: the request's quota units.
    ///   - failure: the classified failure of a response, nil when the response is acceptable.
    nonisolated func send(
        mailbox: String, cost: Int, _ request: @Sendable () async throws -> HTTPResponse,
        failure: (HTTPResponse) -> ProviderFailure?
    ) async throws -> HTTPResponse {
        var attempt = 1
        while true {
            try await admit(mailbox, cost: cost)
            let response: HTTPResponse
            do {
                response = try await request()
            } catch {
                metrics.record(thrown: error)
                await finish(mailbox, throttled: false)
                throw error
            }
            guard let failure = failure(response) else {
                metrics.recordSuccess()
                await finish(mailbox, throttled: false)
                return response
            }
            metrics.record(failure)
            if case .transient = failure, attempt < policy.transientAttempts {
                await finish(mailbox, throttled: false)
                try await clock.sleep(for: policy.transientWait * (1 << (attempt - 1)))
                attempt += 1
                continue
            }
            guard case .throttled(let retryAfter) = failure else {
                await finish(mailbox, throttled: false)
                throw failure
            }
            let wait = retryAfter ?? policy.defaultWait * (1 << min(attempt - 1, 10))
            // The gate closes (here at once, then in Redis) before the place is given back, so no request of
            // this process slips through.
            await closeLocally(mailbox, for: wait)
            do {
                try await gate.close(mailbox: mailbox, for: wait)
            } catch {
                await finish(mailbox, throttled: true)
                throw error
            }
            await finish(mailbox, throttled: true)
            guard attempt < policy.attempts, wait <= policy.longestInlineWait else {
                throw ProviderFailure.throttled(retryAfter: retryAfter)
            }
            attempt += 1
        }
    }

    /// Waits out the mailbox's gate for a request that already holds its place, right before it goes out
    /// (after its slot and token, and again before a resend after a token refresh): a throttle answered to
    /// another request meanwhile holds it too. A wait longer than a short one throws `throttled`.
    func waitForGate(mailbox: String) async throws {
        while true {
            try Task.checkCancellation()
            let wait = try await gateWait(mailbox)
            guard wait > .zero else { return }
            guard wait <= policy.longestInlineWait else { throw ProviderFailure.throttled(retryAfter: wait) }
            try await clock.sleep(for: wait)
        }
    }

    /// How long the mailbox must still wait: the shared gate, or this process's copy when a throttle was
    /// seen here while the shared gate was being read.
    private func gateWait(_ mailbox: String) async throws -> Duration {
        let shared = try await gate.remaining(mailbox: mailbox)
        guard let closedUntil = mailboxes[mailbox]?.closedUntil else { return shared }
        return max(shared, closedUntil - clock.now)
    }

    /// Waits until the mailbox may send, then takes one of its places in flight and its quota units.
    private func admit(_ mailbox: String, cost: Int) async throws {
        var reserved = false
        while true {
            try Task.checkCancellation()
            let gateWait: Duration
            do {
                gateWait = try await self.gateWait(mailbox)
            } catch {
                if reserved { release(mailbox) }
                throw error
            }
            if gateWait > .zero {
                // A long wait is the scheduler's to make: it parks the backfill and gives up the lease.
                if gateWait > policy.longestInlineWait {
                    if reserved { release(mailbox) }
                    throw ProviderFailure.throttled(retryAfter: gateWait)
                }
                try await sleep(until: clock.now + gateWait, holding: reserved, mailbox: mailbox)
                continue
            }
            let now = clock.now
            var state = mailboxes[mailbox] ?? MailboxState()
            if !reserved {
                let limit = state.singleFile ? 1 : max(policy.maxConcurrent, 1)
                if state.inFlight >= limit {
                    await withCheckedContinuation { mailboxes[mailbox, default: state].waiters.append($0) }
                    continue
                }
                let (sendAt, spent) = reserveQuota(&state, cost: cost, now: now)
                guard spent else {
                    // The quota is spent for longer than a short wait (after a burst, up to a whole window):
                    // parked, the backfill waits without holding its lease past expiry.
                    mailboxes[mailbox] = state
                    throw ProviderFailure.throttled(retryAfter: sendAt - now)
                }
                state.inFlight += 1
                reserved = true
                mailboxes[mailbox] = state
                if sendAt > now {
                    // Quota pacing: hold the place, then look at the gate again (a throttle may have come).
                    try await sleep(until: sendAt, holding: true, mailbox: mailbox)
                    continue
                }
            }
            return
        }
    }

    /// The instant the trailing minute has room for `cost` more units, and whether they were spent then:
    /// not when that instant is more than `longestInlineWait` away.
    private func reserveQuota(
        _ state: inout MailboxState, cost: Int, now: ContinuousClock.Instant
    ) -> (at: ContinuousClock.Instant, spent: Bool) {
        guard let unitsPerMinute = policy.unitsPerMinute else { return (now, true) }
        let minute = policy.quotaWindow
        let expired = state.spent.prefix { $0.at <= now - minute }
        state.spentTotal -= expired.reduce(0) { $0 + $1.units }
        state.spent.removeFirst(expired.count)
        var sendAt = max(now, state.spent.last?.at ?? now)
        var excess = state.spentTotal + cost - unitsPerMinute
        for entry in state.spent where excess > 0 {
            excess -= entry.units
            sendAt = max(sendAt, entry.at + minute)
        }
        guard sendAt - now <= policy.longestInlineWait else { return (sendAt, false) }
        state.spent.append((sendAt, cost))
        state.spentTotal += cost
        return (sendAt, true)
    }

    private func sleep(until instant: ContinuousClock.Instant, holding: Bool, mailbox: String) async throws {
        do {
            try await clock.sleep(until: instant)
        } catch {
            if holding { release(mailbox) }
            throw error
        }
    }

    private func closeLocally(_ mailbox: String, for wait: Duration) {
        let until = clock.now + wait
        mailboxes[mailbox, default: MailboxState()].closedUntil = max(mailboxes[mailbox]?.closedUntil ?? until, until)
    }

    /// Gives the place back; after a throttle (the gate already closed) the mailbox goes single file.
    private func finish(_ mailbox: String, throttled: Bool) {
        guard var state = mailboxes[mailbox] else { return }
        if throttled {
            state.singleFile = true
            state.successesInARow = 0
        } else if state.singleFile {
            state.successesInARow += 1
            if state.successesInARow >= policy.calmAfter { state.singleFile = false }
        }
        mailboxes[mailbox] = state
        release(mailbox)
    }

    private func release(_ mailbox: String) {
        guard var state = mailboxes[mailbox] else { return }
        state.inFlight -= 1
        let waiters = state.waiters
        state.waiters = []
        // Forget a mailbox with nothing pending, so the table does not grow with every mailbox ever served.
        let done = state.isIdle && state.spent.isEmpty && !state.singleFile && (state.closedUntil.map { $0 <= clock.now } ?? true)
        mailboxes[mailbox] = done ? nil : state
        for waiter in waiters { waiter.resume() }
    }
}
