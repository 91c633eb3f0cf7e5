import BackfillCore
import CoreMetrics

/// `backfill_provider_requests_total{provider, outcome}`: every provider request by its outcome, `ok` or the
/// core code of its failure (`throttled`, `transient`, ...), `cancelled` when the worker gave up on it.
/// Labels never hold a mailbox, an address or a URL.
struct ProviderRequestMetrics: Sendable {
    private let counters: [String: Counter]

    init(provider: String, factory: any MetricsFactory = MetricsSystem.factory) {
        let failures: [BackfillErrorCode] = [.throttled, .tokenExpired, .permissionLost, .transient, .invalidResponse, .cursorExpired]
        let outcomes = ["ok", "cancelled"] + failures.map(\.rawValue)
        counters = Dictionary(uniqueKeysWithValues: outcomes.map { outcome in
            (outcome, Counter(label: "backfill_provider_requests_total", dimensions: [("provider", provider), ("outcome", outcome)],
                              factory: factory))
        })
    }

    func recordSuccess() {
        counters["ok"]?.increment()
    }

    func record(_ failure: ProviderFailure) {
        counters[failure.code.rawValue]?.increment()
    }

    /// An error thrown by the transport: a provider failure by its code, anything else as cancelled
    /// (the transport throws only those two kinds).
    func record(thrown error: any Error) {
        if let failure = error as? ProviderFailure {
            record(failure)
        } else {
            counters["cancelled"]?.increment()
        }
    }
}
