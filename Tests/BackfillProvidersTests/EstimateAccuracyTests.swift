import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import Foundation
import Testing

/// The picker's estimates against what a backfill of each range really pulls, over HTTP to the simulator:
/// within 10% for every range and both providers.
@Suite("Estimates against the simulator")
struct EstimateAccuracyTests {
    /// 2,000 messages over two years, a third in the last 90 days: the 12-month Gmail window holds more than
    /// one listing page of INBOX ids, so its figure comes from `resultSizeEstimate`, not from counting.
    static let messageCount = 2_000

    @Test("Graph: every range's estimate is within 10% of the window's messages, and of a 90-day backfill's")
    func graph() async throws {
        try await SimulatorHarness.run(messageCount: Self.messageCount) { sim in
            try await check(sim, sim.graph, "graph-1", SimulatorHarness.graphUser)
        }
    }

    @Test("Gmail: every range's estimate is within 10% of the window's messages, and of a 90-day backfill's")
    func gmail() async throws {
        try await SimulatorHarness.run(messageCount: Self.messageCount) { sim in
            try await check(sim, sim.gmail, "gmail-1", SimulatorHarness.gmailUser)
        }
    }

    private func check(
        _ sim: SimulatorHarness, _ provider: some MailProvider & BackfillEstimating, _ connectionId: String, _ address: String
    ) async throws {
        let now = sim.window.end
        let estimates = try await provider.estimates(connectionId: connectionId, now: now)
        #expect(estimates.map(\.range) == RangeEstimate.ranges)
        var figures: [String] = []
        for estimate in estimates {
            let window = try #require(estimate.range.window(pinnedAt: now))
            let expected = try await expectedCount(sim, address, window)
            #expect(expected > 0)
            #expect(abs(estimate.messages - expected) * 10 <= expected, "\(estimate.range.rawValue): estimated \(estimate.messages), \(expected) in the window")
            var figure = "\(estimate.range.rawValue) estimated \(estimate.messages) (\(estimate.seconds) s), window \(expected)"
            if estimate.range == .recommended {
                let stored = try await backfill(provider, connectionId, window)
                #expect(stored == expected)
                #expect(abs(estimate.messages - stored) * 10 <= stored, "90d: estimated \(estimate.messages), stored \(stored)")
                figure += ", stored \(stored)"
            }
            figures.append(figure)
        }
        print("estimates \(connectionId): " + figures.joined(separator: "; "))
    }

    /// The number of messages the simulator says a backfill of `window` must store.
    private func expectedCount(_ sim: SimulatorHarness, _ address: String, _ window: DateWindow) async throws -> Int {
        let iso = { (date: Date) in FormEncoding.escape(date.formatted(.iso8601)) }
        let object = try await sim.control("GET", "mailboxes/\(address)/expected?start=\(iso(window.start))&end=\(iso(window.end))")
        return try #require(object["ids"] as? [String]).count
    }

    /// A whole backfill of `window`: prepare, every page, finish; the messages stored (distinct ids).
    private func backfill(_ provider: some MailProvider, _ connectionId: String, _ window: DateWindow) async throws -> Int {
        let job = BackfillJob(connectionId: connectionId, backfillId: "estimate-check", window: window)
        _ = try await provider.prepare(job)
        var ids = Set<String>()
        var cursor: String?
        repeat {
            let page = try await provider.fetchPage(job, cursor: cursor)
            ids.formUnion(page.messages.map(\.providerMessageId))
            cursor = page.nextCursor
        } while cursor != nil
        try await provider.finish(job)
        return ids.count
    }
}
