import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Real time's passing trouble in a connection's view")
struct RealtimeFailingViewTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func connection(failures: Int) -> Connection {
        Connection(
            id: "c_0123456789abcdef", provider: .graph, address: "a@example.com", createdAt: now,
            realtime: RealtimeStatus(mode: .push, lastCatchUpAt: now.addingTimeInterval(-600), channelExpiresAt: nil, failing: RealtimeFailing(
                failures: failures, code: .transient, message: "temporary provider failure (503)", nextTryAt: now.addingTimeInterval(40))))
    }

    @Test("the API shows it from the third catch-up in a row that failed, with every key; the CLI says it in words")
    func shownFromTheThird() throws {
        for failures in 1..<RealtimeFailing.shownAfter {
            let view = ConnectionView(connection(failures: failures), parentAddress: nil, backfill: nil, now: now)
            #expect(view.realtime?.failing == nil, "\(failures) failures are a hiccup")
            #expect(view.health == .healthy)
        }
        let view = ConnectionView(connection(failures: 3), parentAddress: nil, backfill: nil, now: now)
        let failing = try #require(view.realtime?.failing)
        #expect(failing.failures == 3)
        #expect(view.health == .healthy, "passing trouble is not the connection's error")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(view)) as? [String: Any])
        let realtime = try #require(json["realtime"] as? [String: Any])
        #expect(Set((try #require(realtime["failing"] as? [String: Any])).keys) == ["failures", "code", "message", "nextTryAt"])
        #expect(StatusLine.delayed(failing, now: now)
                == "New mail delayed: temporary provider failure (503) · 3 checks in a row failed · next try in 40 s")
        let quiet = try #require(try JSONSerialization.jsonObject(
            with: JSONEncoder().encode(ConnectionView(connection(failures: 1), parentAddress: nil, backfill: nil, now: now))) as? [String: Any])
        #expect((quiet["realtime"] as? [String: Any])?["failing"] is NSNull, "the key is there, null")
    }
}
