import BackfillCore
import BackfillProviders
@testable import BackfillScheduler
import Foundation
import Testing

/// Two instances' providers (each with its own admission state) against one mailbox: a Retry-After one of them
/// was given holds for the other, as when a lease holder is killed after a 429 and another instance claims.
@Suite("Retry-After across instances")
struct RetryGateTests {
    @Test("a short Retry-After given to one instance is waited out by another instance's first request")
    func shortWaitHeldAcrossInstances() async throws {
        try await EndToEnd.run { env in
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            let job = BackfillJob(connectionId: id, backfillId: "gate", window: try #require(BackfillRange.last30Days.window(pinnedAt: try await env.simulatorNow())))
            try await env.control("POST", "faults", body: [
                "mailbox": EndToEnd.graphUser, "route": "graph.folders.get", "status": 429, "retryAfter": 2.0,
            ])
            let other = env.otherInstance()
            async let first = env.router.fetchPage(job, cursor: nil)
            try await env.eventually("the gate closed") {
                try await env.redis.send(["PTTL", env.scheduler.keys.gate(id)]).int ?? -2 > 0
            }
            let second = try await other.fetchPage(job, cursor: nil)
            #expect(try await first.messages.count == second.messages.count)
            let stats = try await env.mailboxStats(EndToEnd.graphUser)
            #expect(stats.violations == 0)
            #expect(try await env.journalCounts(EndToEnd.graphUser).throttled == 1)
        }
    }

    @Test("a long Retry-After given to one instance throttles another instance's request without sending it")
    func longWaitParksOtherInstance() async throws {
        try await EndToEnd.run { env in
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            let job = BackfillJob(connectionId: id, backfillId: "gate", window: try #require(BackfillRange.last30Days.window(pinnedAt: try await env.simulatorNow())))
            try await env.control("POST", "faults", body: [
                "mailbox": EndToEnd.graphUser, "route": "graph.folders.get", "status": 429, "retryAfter": 30.0,
            ])
            await #expect(throws: ProviderFailure.self) { try await env.router.fetchPage(job, cursor: nil) }
            let sent = try await env.journalCounts(EndToEnd.graphUser).requests
            do {
                _ = try await env.otherInstance().fetchPage(job, cursor: nil)
                Issue.record("the other instance sent before the Retry-After")
            } catch ProviderFailure.throttled(let wait?) {
                #expect(wait > .seconds(25) && wait <= .seconds(30), "gate wait \(wait)")
            }
            #expect(try await env.journalCounts(EndToEnd.graphUser).requests == sent)
            #expect(try await env.mailboxStats(EndToEnd.graphUser).violations == 0)
        }
    }
}
