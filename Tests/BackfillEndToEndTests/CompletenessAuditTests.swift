import BackfillCore
import BackfillProviders
import BackfillScheduler
import Foundation
import GRDB
import Testing

/// The completeness audit after a completed backfill: the provider's messages in the window against the store's.
@Suite("Completeness audit")
struct CompletenessAuditTests {
    @Test("an audit verifies a complete store, then finds and repairs messages removed behind its back", arguments: [
        ProviderKind.graph, .gmail,
    ])
    func repairsRemovedMessages(provider: ProviderKind) async throws {
        try await EndToEnd.run(gmailMessageCount: 150) { env in
            let address = provider == .graph ? EndToEnd.graphUser : EndToEnd.gmailUser
            let id = try await env.connect(provider, address)
            let window = try await env.start(id, .everything)
            try await env.waitFor(id, .completed)
            let expected = try await env.expectedIds(address, window)
            let audit = CompletenessAudit(scheduler: env.scheduler, provider: env.router, store: env.store)

            let clean = try #require(try await audit.run(connectionId: id))
            #expect(clean.providerCount == expected.count && clean.storedCount == expected.count)
            #expect(clean.repaired == 0 && clean.unrepaired == 0)

            // Seven rows vanish from the store (a restore from an old copy, a careless DELETE).
            let removed = Array(expected.sorted().prefix(7))
            let database = try DatabaseQueue(path: env.storeDirectory.appendingPathComponent("messages.sqlite").path)
            try await database.write { db in
                for messageId in removed {
                    try db.execute(sql: "DELETE FROM message WHERE connection_id = ? AND provider_message_id = ?", arguments: [id, messageId])
                }
            }
            try database.close()
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected.subtracting(removed))

            let repaired = try #require(try await audit.run(connectionId: id))
            #expect(repaired.storedCount == expected.count - removed.count)
            #expect(repaired.providerCount == expected.count)
            #expect(repaired.repaired == removed.count && repaired.unrepaired == 0)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
            let summary = try #require(try await env.record(id).audit)
            #expect(summary.repaired == removed.count && summary.unrepaired == 0)
            #expect(summary.auditedAt == repaired.auditedAt.roundedToMilliseconds)
        }
    }
}

extension Date {
    var roundedToMilliseconds: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000) }
}
