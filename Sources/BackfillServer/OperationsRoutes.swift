import BackfillCore
import BackfillScheduler
import Foundation
import Hummingbird
import Logging
import Prometheus

/// `/healthz` (the process answers), `/readyz` (Redis and the store work), `/metrics` (Prometheus text).
struct OperationsRoutes: Sendable {
    let scheduler: Scheduler
    let directory: RedisConnectionDirectory
    let readiness: ReadinessCheck
    static var backfills: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "backfill", metricName: "backfills", unitName: "", helpText: "Current backfills by state."
        )
    }
    static var realtimeDelayed: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "backfill", metricName: "realtime_delayed", unitName: "",
            helpText: "Connections whose real-time catch-ups failed \(RealtimeFailing.shownAfter) or more times in a row: new mail is late."
        )
    }

    static var outbox: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "backfill", metricName: "events_outbox", unitName: "",
            helpText: "Lifecycle events waiting in Redis to be recorded in the store: growing, the store refuses them."
        )
    }

    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ in try await ready() }
        router.get("/metrics") { _, _ in try await metrics() }
    }

    private func ready() async throws -> Response {
        var failures: [String: String] = [:]
        if let problem = await ReadinessCheck.redisProblem(scheduler.probe) { failures["redis"] = problem }
        do {
            try await readiness.run()
        } catch {
            failures["store"] = "the store is not writable"
        }
        guard failures.isEmpty else {
            logger.warning("not ready", metadata: ["failures": "\(failures)"])
            throw APIError(.serviceUnavailable, code: "not_ready",
                           message: failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
        }
        return Self.text("ready\n")
    }

    private static func text(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private func metrics() async throws -> Response {
        try await refreshBackfillGauge()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }

    /// `backfill_backfills{state}`: current backfills by state, `backfill_realtime_delayed` and
    /// `backfill_events_outbox`: one Redis read each per scrape (the scripts keep the counts, the set and the stream).
    private func refreshBackfillGauge() async throws {
        async let delayed = scheduler.realtimeDelayedCount()
        async let outbox = scheduler.outboxLength()
        for (state, count) in try await scheduler.stateCounts() {
            registry.makeGauge(descriptor: Self.backfills, labels: [("state", state.rawValue)]).set(Double(count))
        }
        registry.makeGauge(descriptor: Self.realtimeDelayed).set(Double(try await delayed))
        registry.makeGauge(descriptor: Self.outbox).set(Double(try await outbox))
    }
}
