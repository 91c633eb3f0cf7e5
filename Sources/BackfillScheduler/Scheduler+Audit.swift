import BackfillCore
import Foundation

/// Completeness audits (`CompletenessAudit`): due times in `P:audit:due`, reports on the backfill's hash.
extension Scheduler {
    /// Schedules an audit of the connection's completed backfill `after` from now (a completion asks for one at once).
    public func scheduleAudit(connectionId: String, after: Duration = .zero) async throws {
        _ = try await redis.run(
            SchedulerScripts.scheduleAudit, keys: [keys.auditDue],
            arguments: [connectionId, String(after.components.seconds * 1000 + after.components.attoseconds / 1_000_000_000_000_000)]
        )
    }

    /// Takes up to `limit` due audits, each held for `hold` (it comes back then unless its report is recorded).
    func claimDueAudits(limit: Int, hold: Duration) async throws -> [String] {
        try await redis.run(
            SchedulerScripts.claimAudits, keys: [keys.auditDue],
            arguments: [String(limit), String(hold.components.seconds * 1000)]
        ).strings
    }

    /// Records `report` on the backfill `backfillId` and schedules the next audit a day later; false when the
    /// connection has another backfill now.
    func recordAudit(_ report: AuditReport, connectionId: String, backfillId: String) async throws -> Bool {
        let reply = try await redis.run(
            SchedulerScripts.recordAudit, keys: [keys.backfill(connectionId), keys.auditDue],
            arguments: [
                connectionId, backfillId, String(Int64(report.auditedAt.timeIntervalSince1970 * 1000)), String(report.repaired),
                String(report.unrepaired), String(Int64(AuditReport.interval * 1000)),
            ]
        )
        return reply.int == 1
    }
}
