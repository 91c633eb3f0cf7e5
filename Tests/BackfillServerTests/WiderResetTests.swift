import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Reset to a wider range")
struct WiderResetTests {
    @Test("after a reset to a wider range the count is the range's messages, those already stored counted once")
    func widerReset() async throws {
        try await AppOnlyFixture.with { fixture in
            let server = fixture.server
            let id = try await fixture.connectApp(AppOnlyFixture.owner).decode(ConnectionView.self).id
            _ = try await server.request("POST", "/v1/connections/\(id)/backfill", json: #"{"range": "30d"}"#)
            let first = try await server.wait(for: id, timeout: .seconds(30), "the 30-day backfill") { $0.backfill?.state == .completed }
            let thirty = try #require(first.backfill?.pulled)
            _ = try await server.request("POST", "/v1/connections/\(id)/backfill/reset", json: #"{"range": "12m"}"#)
            let wider = try await server.wait(for: id, timeout: .seconds(30), "the 12-month backfill") {
                $0.backfill?.range == .last12Months && $0.backfill?.state == .completed
            }
            let backfill = try #require(wider.backfill)
            // Every message of the 12 months once, the 30 days' among them: what the store holds in that window.
            var stored: [StoredMessage] = []
            var cursor: MessagePageCursor?
            repeat {
                let page = try await fixture.store.messages(connectionId: id, limit: 500, after: cursor)
                stored += page.messages
                cursor = page.next
            } while cursor != nil
            let inWindow = stored.filter { $0.receivedAt >= backfill.windowStart && $0.receivedAt < backfill.windowEnd }
            #expect(thirty > 0 && backfill.pulled > thirty)
            #expect(backfill.pulled == inWindow.count && backfill.pulled == Set(inWindow.map(\.providerMessageId)).count)
            #expect(StatusLine.line(backfill, now: Date()) == "Synced last 12 months · \(StatusLine.number(backfill.pulled)) messages")
        }
    }
}
