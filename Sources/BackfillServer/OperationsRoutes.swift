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
            namespace: "backfill", metricName: "backfills", unitName: "", helpText: "Current backfills by state (counted at each scrape)."
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
        if let problem = await ReadinessCheck.redisProblem(scheduler.redis) { failures["redis"] = problem }
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

    /// `backfill_backfills{state}`: current backfills by state, counted from Redis at each scrape.
    private func refreshBackfillGauge() async throws {
        let ids = try await scheduler.redis.send(["SMEMBERS", scheduler.keys.connections]).array?.compactMap(\.string) ?? []
        var counts = Dictionary(uniqueKeysWithValues: BackfillState.allCases.map { ($0, 0) })
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ ids[$0..<min($0 + 500, ids.count)] }) {
            let states = try await scheduler.redis.pipeline(chunk.map { ["HGET", scheduler.keys.backfill($0), "state"] })
            for reply in states {
                if let state = reply.string.flatMap(BackfillState.init(rawValue:)) { counts[state, default: 0] += 1 }
            }
        }
        for (state, count) in counts {
            registry.makeGauge(descriptor: Self.backfills, labels: [("state", state.rawValue)]).set(Double(count))
        }
    }
}
