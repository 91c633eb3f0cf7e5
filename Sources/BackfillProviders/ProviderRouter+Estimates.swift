import BackfillCore
import Foundation

/// Estimates go to the connection's provider like every other call (a shared mailbox borrows its parent's token).
extension ProviderRouter: BackfillEstimating {
    public func estimates(connectionId: String, now: Date) async throws -> [RangeEstimate] {
        try await dispatch(connectionId) { try await $0.estimates(connectionId: connectionId, now: now) }
    }
}
