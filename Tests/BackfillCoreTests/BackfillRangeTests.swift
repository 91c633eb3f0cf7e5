import BackfillCore
import Foundation
import Testing

@Suite("Backfill ranges")
struct BackfillRangeTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28T20:26:40Z

    @Test("each range pins a window that ends at creation", arguments: [
        (BackfillRange.last30Days, 30.0 * 86_400),
        (BackfillRange.last90Days, 90.0 * 86_400),
    ])
    func dayWindows(range: BackfillRange, seconds: Double) throws {
        let window = try #require(range.window(pinnedAt: now))
        #expect(window.end == now)
        #expect(window.start == now.addingTimeInterval(-seconds))
    }

    @Test("12 months goes back to the same calendar day a year earlier")
    func twelveMonths() throws {
        let window = try #require(BackfillRange.last12Months.window(pinnedAt: now))
        #expect(window.start == Date(timeIntervalSince1970: 1_780_000_000 - 365 * 86_400))
    }

    @Test("all starts at the beginning of mail, skip has no window")
    func allAndSkip() {
        #expect(BackfillRange.everything.window(pinnedAt: now)?.start == DateWindow.beginningOfMail)
        #expect(BackfillRange.skip.window(pinnedAt: now) == nil)
    }

    @Test("windows are half-open")
    func halfOpen() throws {
        let window = try #require(BackfillRange.last30Days.window(pinnedAt: now))
        #expect(window.contains(window.start))
        #expect(!window.contains(window.end))
        #expect(window.contains(window.end.addingTimeInterval(-0.001)))
        #expect(!window.contains(window.start.addingTimeInterval(-0.001)))
    }

    @Test("the API spelling parses, anything else is refused with the accepted values")
    func parsing() {
        #expect(throws: Never.self) { try BackfillRange(parsing: "90d") }
        #expect(BackfillRange.recommended == .last90Days)
        do {
            _ = try BackfillRange(parsing: "7d")
            Issue.record("7d was accepted")
        } catch {
            #expect(error.code == "unknown_range")
            #expect(error.message.contains("30d, 90d, 12m, all, skip"))
        }
    }
}
