import BackfillCore
import Foundation

/// Checks that a completed backfill stored everything the provider holds in its window, and stores what is
/// missing. Cheap when all is well: Graph compares its folders' `$count`s with the store's; Gmail (whose listing
/// is its only exact count) compares listed ids. On a difference the provider's ids are listed, the missing ones
/// fetched and stored; those it will not serve are listed as skipped. The report goes on the backfill.
public struct CompletenessAudit: Sendable {
    let scheduler: Scheduler
    let provider: any CompletenessAuditing
    let store: any AuditableMessageStore

    public init(scheduler: Scheduler, provider: any CompletenessAuditing, store: any AuditableMessageStore) {
        self.scheduler = scheduler
        self.provider = provider
        self.store = store
    }

    /// Audits the connection's backfill when it is completed (nil otherwise, and nothing recorded).
    public func run(connectionId: String) async throws -> AuditReport? {
        guard let record = try await scheduler.backfill(connectionId: connectionId), record.state == .completed else { return nil }
        let window = record.window
        let started = Date()
        let stored = try await store.providerMessageIds(connectionId: connectionId, window: window)
        let storedIds = stored.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        var report = AuditReport(auditedAt: started, providerCount: 0, storedCount: storedIds.count, repaired: 0, unrepaired: 0)
        if let counts = try await provider.auditCounts(connectionId: connectionId, window: window),
           FolderKind.allCases.allSatisfy({ counts[$0, default: 0] == stored[$0]?.count ?? 0 })
        {
            report.providerCount = counts.values.reduce(0, +)
        } else {
            let listed = try await provider.auditIds(connectionId: connectionId, window: window)
            report.providerCount = listed.values.reduce(into: Set<String>()) { $0.formUnion($1) }.count
            // Stored under another folder (moved since) is stored: only ids the store lacks altogether are missing.
            let missing = FolderKind.allCases.flatMap { folder in
                (listed[folder] ?? []).subtracting(storedIds).sorted().map {
                    SkippedMessage(providerMessageId: $0, folder: folder, failure: .transient("missing from the store"))
                }
            }
            if !missing.isEmpty {
                let fetched = try await provider.refetch(missing, connectionId: connectionId)
                // Listed by whole seconds (Gmail): a message fetched from just outside the window is not missing.
                let inWindow = fetched.stored.filter { window.contains($0.receivedAt) }.map { message in
                    var repaired = message
                    repaired.backfillId = record.id  // history the backfill should have stored
                    return repaired
                }
                report.repaired = inWindow.isEmpty ? 0 : try await store.insert(inWindow)
                report.unrepaired = fetched.stillSkipped.count
                try await scheduler.recordSkipped(fetched.stillSkipped, connectionId: connectionId)
            }
        }
        _ = try await scheduler.recordAudit(report, connectionId: connectionId, backfillId: record.id)
        return report
    }
}
