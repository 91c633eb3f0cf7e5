import Foundation

/// A provider that can estimate, from cheap calls, what each range would pull (`GET .../estimates`).
public protocol BackfillEstimating: Sendable {
    /// One estimate per range in `RangeEstimate.ranges`, windows pinned at `now`. Throws a `ProviderFailure`.
    func estimates(connectionId: String, now: Date) async throws -> [RangeEstimate]
}
