import BackfillCore
import Foundation

/// Estimates go to the connection's provider like every other call (a shared mailbox borrows its parent's token).
extension ProviderRouter: BackfillEstimating {
    public func estimates(connectionId: String, now: Date) async throws -> [RangeEstimate] {
        try await dispatch(connectionId) { provider in
            guard let estimating = provider as? any BackfillEstimating else {
                throw ProviderFailure.invalidResponse("this provider gives no estimates")
            }
            return try await estimating.estimates(connectionId: connectionId, now: now)
        }
    }
}
