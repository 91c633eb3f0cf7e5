/// Decides, for one mailbox in this process, whether a provider request may go now, must wait (how long) or
/// must park the backfill, and what to do with each answer: a pure state machine, fed the time and the
/// answers, returning actions. The driver (`ProviderRequestSender`) does the I/O: the shared gate and slots
/// in Redis, the token, the HTTP request, the sleeps.
///
/// - A closed gate (Retry-After) holds every request of the mailbox; this process's copy closes the moment a
///   throttle is answered, before the shared gate in Redis is written, so no request of this process slips
///   through in between.
/// - After a throttle the mailbox goes single file (requests already on the wire cannot be recalled) until
///   `calmAfter` successes in a row.
/// - An optional quota (units per trailing window, Gmail's per-user quota) is accounted as the provider does:
///   a request that would overdraw it is sent when enough has slid out of the window.
public struct MailboxAdmission: Sendable {
    public typealias Instant = ContinuousClock.Instant

    /// What a request that asks to go does next.
    public enum Entry: Sendable, Equatable {
        /// It holds a place (and its quota units): send at this instant (later than now when pacing the quota).
        case go(at: Instant)
        /// Every place is taken: ask again when one is given back.
        case queue
        /// The gate is closed for a short while: ask again then.
        case wait(until: Instant)
        /// Too long to wait in place (a long Retry-After): the backfill parks for this long.
        case park(Duration)
        /// The quota is spent for longer than a wait in place: the backfill parks for this long, waiting on its own
        /// pacing rather than on a refusal of the provider's.
        case pace(Duration)
    }

    /// How the provider answered one send.
    public enum Answer: Sendable, Equatable {
        case success
        /// 429, 503 with Retry-After, Gmail's rate-limit 403s; nil when no time was named.
        case throttled(retryAfter: Duration?)
        /// The request went through but some calls it carried were throttled (Gmail's batch answers each call on its
        /// own): the response stands, the gate closes as for a throttle (nil: no time was named).
        case partlyThrottled(retryAfter: Duration?)
        /// A server error without Retry-After.
        case serverError
        /// 401: the access token was refused.
        case unauthorized
        /// Any other failure: not sent again.
        case failed
    }

    /// What became of one request's sends so far.
    public struct Attempts: Sendable, Equatable {
        public var throttles = 0
        public var serverErrors = 0
        public var refreshedToken = false
        public init() {}
    }

    /// What the driver does after an answer. The place is already given back.
    public enum Verdict: Sendable, Equatable {
        /// The answer stands: return the response, or throw its classified failure.
        case done
        /// Send the request again from the start (place, gate, slot) once this instant has come.
        case resend(at: Instant)
        /// Get a fresh token (the refused one was replaced or is refreshed), then send again.
        case refreshTokenAndResend
        /// A token fresh from the identity provider was refused too: the grant no longer works.
        case tokenRefused
        /// Leave the throttle to the scheduler: throw `throttled(retryAfter:)` with this wait.
        case park(Duration)
    }

    public let policy: AdmissionPolicy
    public private(set) var inFlight = 0
    public private(set) var singleFile = false
    private var successesInARow = 0
    private var closedUntil: Instant?
    /// Quota units by send time (some in the future: reserved by requests waiting for their turn), oldest first.
    private var spent: [(at: Instant, units: Int)] = []
    private var spentTotal = 0

    public init(policy: AdmissionPolicy) {
        self.policy = policy
    }

    /// Nothing to remember: no request holds a place, no gate or quota or single-file mode is in force. The
    /// owner of a table of mailboxes forgets such a one.
    public func isIdle(at now: Instant) -> Bool {
        inFlight == 0 && !singleFile && spent.allSatisfy { $0.at <= now - policy.quotaWindow }
            && (closedUntil.map { $0 <= now } ?? true)
    }

    /// A request asks to go; `cost` is its quota units (0 when it already holds units from an earlier entry
    /// that found the shared gate closed).
    public mutating func enter(cost: Int, now: Instant) -> Entry {
        if let closedUntil, closedUntil > now {
            let wait = closedUntil - now
            return wait > policy.longestInlineWait ? .park(wait) : .wait(until: closedUntil)
        }
        if inFlight >= (singleFile ? 1 : policy.maxConcurrent) { return .queue }
        let sendAt = quotaTurn(cost: cost, now: now)
        guard sendAt - now <= policy.longestInlineWait else { return .pace(sendAt - now) }
        if cost > 0, policy.unitsPerMinute != nil {
            spent.append((sendAt, cost))
            spentTotal += cost
        }
        inFlight += 1
        return .go(at: sendAt)
    }

    /// The shared gate (another instance's throttle, or one answered here meanwhile) was found closed for
    /// `remaining` by a request holding a place: the place is given back and the gate remembered here.
    public mutating func sharedGateClosed(for remaining: Duration, now: Instant) -> Entry {
        close(until: now + remaining)
        leave()
        return remaining > policy.longestInlineWait ? .park(remaining) : .wait(until: now + remaining)
    }

    /// A request holding a place ended without an answer (a transport error, cancellation).
    public mutating func abandon() {
        leave()
    }

    /// The provider answered a send. Gives the place back and says what to do; `closeSharedGate` is the wait
    /// to close the shared gate for (when the answer was a throttle), before anything else is sent.
    public mutating func answered(
        _ answer: Answer, attempts: inout Attempts, now: Instant
    ) -> (verdict: Verdict, closeSharedGate: Duration?) {
        leave()
        switch answer {
        case .success, .failed:
            calm()
            return (.done, nil)
        case .unauthorized:
            guard !attempts.refreshedToken else { return (.tokenRefused, nil) }
            attempts.refreshedToken = true
            return (.refreshTokenAndResend, nil)
        case .serverError:
            attempts.serverErrors += 1
            guard attempts.serverErrors < policy.serverErrorSends else { return (.done, nil) }
            return (.resend(at: now + policy.serverErrorBackoff * (1 << min(attempts.serverErrors - 1, 10))), nil)
        case .partlyThrottled(let retryAfter):
            let wait = retryAfter ?? AdmissionPolicy.defaultRetryAfter
            throttled(until: now + wait)
            return (.done, wait)
        case .throttled(let retryAfter):
            attempts.throttles += 1
            let wait = retryAfter ?? AdmissionPolicy.unnamedRetryAfter(throttles: attempts.throttles)
            throttled(until: now + wait)
            guard attempts.throttles < policy.throttleSends, wait <= policy.longestInlineWait else {
                return (.park(wait), wait)
            }
            return (.resend(at: now + wait), wait)
        }
    }

    // MARK: Private

    private mutating func leave() {
        inFlight = max(inFlight - 1, 0)
    }

    private mutating func calm() {
        guard singleFile else { return }
        successesInARow += 1
        if successesInARow >= policy.calmAfter {
            singleFile = false
            successesInARow = 0
        }
    }

    /// The gate closes and the mailbox goes single file until it is calm again.
    private mutating func throttled(until instant: Instant) {
        close(until: instant)
        singleFile = true
        successesInARow = 0
    }

    private mutating func close(until instant: Instant) {
        closedUntil = max(closedUntil ?? instant, instant)
    }

    /// The instant the trailing window has room for `cost` more units (now when there is no quota).
    private mutating func quotaTurn(cost: Int, now: Instant) -> Instant {
        guard let unitsPerMinute = policy.unitsPerMinute, cost > 0 else { return now }
        let window = policy.quotaWindow
        let expired = spent.prefix { $0.at <= now - window }
        spentTotal -= expired.reduce(0) { $0 + $1.units }
        spent.removeFirst(expired.count)
        var sendAt = max(now, spent.last?.at ?? now)
        var excess = spentTotal + cost - unitsPerMinute
        for entry in spent where excess > 0 {
            excess -= entry.units
            sendAt = max(sendAt, entry.at + window)
        }
        return sendAt
    }
}
