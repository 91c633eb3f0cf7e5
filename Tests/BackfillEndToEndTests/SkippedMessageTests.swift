import BackfillCore
import BackfillProviders
import BackfillScheduler
import Foundation
import Testing

/// A message the provider refuses to serve (a "poison" message) is skipped, counted and listed instead of failing
/// the backfill; "retry skipped" stores it once the provider serves it.
@Suite("Skipped messages")
struct SkippedMessageTests {
    @Test("a Gmail message answered 500 every time is skipped and listed; the rest complete; a retry stores it")
    func poisonMessage() async throws {
        try await EndToEnd.run(gmailMessageCount: 120) { env in
            let id = try await env.connect(.gmail, EndToEnd.gmailUser)
            let now = try await env.simulatorNow()
            let window = try #require(BackfillRange.everything.window(pinnedAt: now))
            let expected = try await env.expectedIds(EndToEnd.gmailUser, window)
            let poison = try #require(expected.sorted().dropFirst(40).first)
            // Every fetch of that one message fails with a server error; every other message comes.
            try await env.control("POST", "faults", body: [
                "mailbox": EndToEnd.gmailUser, "route": "messages.get", "path": "/messages/\(poison)", "status": 500, "count": 1000,
            ])
            _ = try await env.start(id, .everything)
            try await env.waitFor(id, .completed)
            let record = try await env.record(id)
            #expect(record.skipped == 1)
            #expect(record.pulled == expected.count - 1)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected.subtracting([poison]))
            let skipped = try await env.scheduler.skippedMessages(connectionId: id)
            #expect(skipped.map(\.providerMessageId) == [poison])
            #expect(skipped.first?.code == .transient)

            // Still refused: it stays listed. Served again: it is stored and leaves the list.
            let refused = try await env.router.refetch(skipped, connectionId: id)
            #expect(refused.stored.isEmpty && refused.stillSkipped.map(\.providerMessageId) == [poison])
            try await env.control("DELETE", "faults")
            let served = try await env.router.refetch(skipped, connectionId: id)
            #expect(served.stillSkipped.isEmpty)
            #expect(served.stored.map(\.providerMessageId) == [poison])
            #expect(try await env.store.insert(served.stored) == 1)
            try await env.scheduler.forgetSkipped([poison], connectionId: id)
            #expect(try await env.record(id).skipped == 0)
            #expect(try await env.scheduler.skippedMessages(connectionId: id).isEmpty)
            #expect(try await env.store.providerMessageIds(connectionId: id) == expected)
        }
    }
}
