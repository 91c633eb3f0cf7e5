import BackfillCore
import Foundation
import Hummingbird
import Logging

/// `GET /v1/connections/{id}/estimates`. Unknown connection: 404. A provider that cannot be asked (no
/// estimates, a refused token, a throttle) still answers 200, with the reason in `error`: the estimate is
/// advice for the picker, never a reason for an error page.
struct EstimateRoutes: Sendable {
    let reader: ConnectionReader
    let estimator: (any BackfillEstimating)?
    let cache: EstimateCache
    let logger: Logger

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("connections/{id}/estimates") { _, context in
            try Response.json(try await estimates(try context.parameters.require("id")))
        }
    }

    func estimates(_ id: String) async throws -> EstimatesView {
        let connection = try await reader.require(id)
        let now = Date()
        if let cached = await cache.cached(id, now: now) { return cached }
        let view: EstimatesView
        if connection.health == .disconnected {
            view = EstimatesView(connectionId: id, computedAt: now, ranges: [], error: ProblemView(
                code: .tokenExpired, message: "the mailbox is disconnected; reconnect it for estimates", retryable: false
            ))
        } else if let estimator {
            do {
                view = EstimatesView(connectionId: id, computedAt: now, ranges: try await estimator.estimates(connectionId: id, now: now), error: nil)
            } catch {
                let failure = error as? ProviderFailure ?? .transient("estimate failed")
                logger.info("estimates unavailable", metadata: ["connection": "\(id)", "code": "\(failure.code.rawValue)"])
                view = EstimatesView(connectionId: id, computedAt: now, ranges: [], error: ProblemView(
                    code: failure.code, message: failure.message, retryable: failure.code.isRetryable
                ))
            }
        } else {
            view = EstimatesView(connectionId: id, computedAt: now, ranges: [], error: ProblemView(
                code: .invalidResponse, message: "this service's provider gives no estimates", retryable: false
            ))
        }
        await cache.store(view, for: id, now: now)
        return view
    }
}
