/// How long to back off after a failure that is not throttling, and when to give up.
/// Throttling never counts against `maxAttempts`: the provider's Retry-After decides it.
public struct RetryPolicy: Sendable, Equatable {
    /// Transient failures in a row before the backfill fails (retryable).
    public var maxAttempts: Int
    /// First backoff; doubles with each further attempt.
    public var baseDelay: Duration
    /// Upper bound of one backoff.
    public var maxDelay: Duration
    public init(
        maxAttempts: Int = 6, baseDelay: Duration = .seconds(2), maxDelay: Duration = .seconds(300)
    ) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// What to do after the `attempt`-th failure in a row (1-based), with `jitter` in [0, 1) chosen by
    /// the caller (so tests are exact): full backoff scaled into [1/2, 1) of the exponential delay.
    public func decision(after failure: ProviderFailure, attempt: Int, jitter: Double) -> RetryDecision {
        switch failure {
        case .throttled(let after):
            return .wait(after ?? AdmissionPolicy.defaultRetryAfter, countsAsFailure: false)
        case .pacing(let wait):
            return .wait(wait, countsAsFailure: false)
        case .tokenExpired, .permissionLost:
            return .fail(retryable: false)
        case .parentUnavailable:
            return .waitOnParent
        case .transient, .invalidResponse, .cursorExpired:
            guard attempt < maxAttempts else { return .fail(retryable: true) }
            return .wait(backoff(attempt: attempt, jitter: jitter), countsAsFailure: true)
        case .storeUnavailable:
            // Nothing is wrong with the mailbox: back off (growing to `maxDelay`, so the attempt is counted)
            // for as long as it takes, and never fail for it.
            return .wait(backoff(attempt: attempt, jitter: jitter), countsAsFailure: true)
        }
    }

    /// The exponential backoff of the `attempt`-th try, scaled into [1/2, 1) of it by `jitter`.
    func backoff(attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let full = min(baseDelay.seconds * Double(1 << exponent), maxDelay.seconds)
        let scaled = full * (0.5 + 0.5 * min(max(jitter, 0), 0.999_999))
        return .milliseconds(Int64(scaled * 1000))
    }
}

public enum RetryDecision: Sendable, Equatable {
    case wait(Duration, countsAsFailure: Bool)
    case fail(retryable: Bool)
    /// Stop until the parent connection is reconnected (which requeues the backfill).
    case waitOnParent
}
