import Foundation

/// Estimates the time a backfill still needs, from the rate observed since it last (re)started running.
/// The rate includes throttling waits, so it is what the user will really see. No ETA is given before
/// the rate has been observed for `warmUp` (about a minute), nor while the backfill is not moving.
public struct EtaEstimator: Sendable, Equatable {
    public var warmUp: Duration

    public init(warmUp: Duration = .seconds(60)) {
        self.warmUp = warmUp
    }

    /// Seconds remaining, or nil when there is no honest figure.
    public func secondsRemaining(for progress: BackfillProgress, now: Date) -> Int? {
        switch progress.state {
        case .queued, .running, .throttled: break
        default: return nil
        }
        guard let since = progress.rateSince else { return nil }
        let elapsed = now.timeIntervalSince(since)
        let gained = progress.pulled - progress.pulledAtRateSince
        guard elapsed >= warmUp.seconds, gained > 0 else { return nil }
        let rate = Double(gained) / elapsed
        let remaining = max(progress.estimatedTotal - progress.pulled, 0)
        var seconds = Double(remaining) / rate
        if progress.state == .throttled, let retryAt = progress.retryAt {
            seconds += max(retryAt.timeIntervalSince(now), 0)
        }
        return Int(seconds.rounded(.up))
    }
}

/// The figures the estimator needs; the scheduler keeps them in the backfill's hash.
public struct BackfillProgress: Sendable, Equatable {
    public var state: BackfillState
    public var pulled: Int
    public var estimatedTotal: Int
    /// When the current run's rate measurement began (claim after creation, resume or retry).
    public var rateSince: Date?
    /// `pulled` at `rateSince`.
    public var pulledAtRateSince: Int
    public var retryAt: Date?

    public init(
        state: BackfillState, pulled: Int, estimatedTotal: Int, rateSince: Date?, pulledAtRateSince: Int,
        retryAt: Date?
    ) {
        self.state = state
        self.pulled = pulled
        self.estimatedTotal = estimatedTotal
        self.rateSince = rateSince
        self.pulledAtRateSince = pulledAtRateSince
        self.retryAt = retryAt
    }
}
