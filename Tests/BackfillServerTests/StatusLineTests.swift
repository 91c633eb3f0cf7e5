import BackfillCore
import BackfillServer
import Foundation
import Testing

@Suite("Status line")
struct StatusLineTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A backfill as the API shows it.
    func backfill(
        _ state: String, range: String = "90d", pulled: Int = 3_247, total: Int = 8_500, eta: Int? = nil, retryIn: Double? = nil,
        error: (code: String, message: String)? = nil, stalled: Bool = false, pausing: Bool = false
    ) throws -> BackfillView {
        let retryAt = retryIn.map { "\"\(now.addingTimeInterval($0).formatted(.iso8601))\"" } ?? "null"
        let problem = error.map { #"{"code": "\#($0.code)", "message": "\#($0.message)", "retryable": true}"# } ?? "null"
        let json = """
            {"id": "b1", "state": "\(state)", "range": "\(range)", "windowStart": "2026-09-01T00:00:00Z",
             "windowEnd": "2026-12-01T00:00:00Z", "pulled": \(pulled), "estimatedTotal": \(total),
             "etaSeconds": \(eta.map(String.init) ?? "null"), "startedAt": null, "lastProgressAt": null, "completedAt": null,
             "retryAt": \(retryAt), "stalled": \(stalled), "pausing": \(pausing), "error": \(problem)}
            """
        return try JSONDecoder.api.decode(BackfillView.self, from: Data(json.utf8))
    }

    @Test("the seed's words: syncing the range picked, a relative next try, no word said twice")
    func lines() throws {
        #expect(StatusLine.line(try backfill("running", eta: 250), now: now)
            == "Syncing last 90 days · 3,247 of ~8,500 messages · ~4 min remaining")
        #expect(StatusLine.line(try backfill("running", range: "all"), now: now) == "Syncing all mail · 3,247 of ~8,500 messages")
        #expect(StatusLine.line(try backfill("throttled", retryIn: 12, error: ("throttled", "throttled by the provider for 12 s")), now: now)
            == "Throttled by the provider — next try in 12 s · 3,247 of ~8,500 messages")
        #expect(StatusLine.line(try backfill("queued", retryIn: 200, error: ("transient", "provider answered 503")), now: now)
            == "Retrying in 3 min · 3,247 of ~8,500 messages · provider answered 503")
        #expect(StatusLine.line(try backfill("paused"), now: now) == "Paused · 3,247 of ~8,500 messages")
        #expect(StatusLine.line(try backfill("paused", pausing: true), now: now) == "Pausing… · 3,247 of ~8,500 messages")
        // Its own pacing is not the provider's refusal.
        let pacing = try backfill("throttled", retryIn: 21, error: ("pacing", "pacing to the mailbox's quota; next batch in 21 s"))
        #expect(StatusLine.line(pacing, provider: .gmail, now: now) == "Pacing to Gmail's quota — next batch in 21 s · 3,247 of ~8,500 messages")
        #expect(StatusLine.line(try backfill("completed", pulled: 8_412), now: now) == "Synced last 90 days · 8,412 messages")
        #expect(StatusLine.line(try backfill("failed", error: ("permission_lost", "permission lost; ask the mailbox's admin")), now: now)
            == "Failed: permission lost; ask the mailbox's admin · 3,247 of ~8,500 messages")
        #expect(StatusLine.line(try backfill("running", stalled: true), now: now) == "Syncing last 90 days · 3,247 of ~8,500 messages · stalled")
    }

    @Test("relative times: seconds, minutes, hours; now once passed")
    func relative() {
        #expect(StatusLine.relative(now.addingTimeInterval(0.2), now: now) == "in 1 s")
        #expect(StatusLine.relative(now.addingTimeInterval(89), now: now) == "in 89 s")
        #expect(StatusLine.relative(now.addingTimeInterval(150), now: now) == "in 3 min")
        #expect(StatusLine.relative(now.addingTimeInterval(3_900), now: now) == "in 1 h 5 min")
        #expect(StatusLine.relative(now.addingTimeInterval(-5), now: now) == "now")
    }

    @Test("watch's line fits the terminal: one column spare, a bar a fifth of it (at most 30), cut with an ellipsis")
    func widths() throws {
        let running = try backfill("running", eta: 250)
        // 110 columns: bar of 21 cells (109 / 5) and the whole line, 90 characters.
        let wide = StatusLine.watchLine(running, now: now, columns: 110)
        #expect(wide == "[########.............] Syncing last 90 days · 3,247 of ~8,500 messages · ~4 min remaining")
        #expect(wide.count <= 109)
        // 80 columns: a bar of 15, the line cut at 79 characters.
        let eighty = StatusLine.watchLine(running, now: now, columns: 80)
        #expect(eighty == "[#####..........] Syncing last 90 days · 3,247 of ~8,500 messages · ~4 min rem…")
        #expect(eighty.count == 79)
        // Under 41 columns there is no bar.
        #expect(StatusLine.watchLine(running, now: now, columns: 30) == "Syncing last 90 days · 3,247…")
        #expect(StatusLine.fitted("abc", width: 3) == "abc")
        #expect(StatusLine.fitted("abcd", width: 3) == "ab…")
        #expect(StatusLine.fitted("abcd", width: 0) == "")
    }
}
