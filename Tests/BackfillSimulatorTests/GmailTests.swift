import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Gmail API")
struct GmailTests {
    static let start = "2026-08-27T00:00:00Z"
    static let end = "2026-11-20T00:00:00Z"
    static let startSeconds = 1_787_788_800
    static let endSeconds = 1_795_132_800

    static func listAll(_ sim: SimulatorHarness, token: String, label: String) async throws -> [String] {
        var ids: [String] = []
        var pageToken: String?
        repeat {
            var url = "\(sim.server.gmailBaseURL)/gmail/v1/users/me/messages?labelIds=\(label)&maxResults=500"
                + "&q=" + SimulatorHarness.encode("after:\(startSeconds) before:\(endSeconds)")
            if let pageToken { url += "&pageToken=\(pageToken)" }
            let page = try sim.json(try await sim.send(url, token: token))
            ids += (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            pageToken = page["nextPageToken"] as? String
        } while pageToken != nil
        return ids
    }

    @Test("listing INBOX and SENT with after:/before: in epoch seconds returns exactly the expected set")
    func listMatchesExpectedSet() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let inbox = try await Self.listAll(sim, token: token, label: "INBOX")
            let sent = try await Self.listAll(sim, token: token, label: "SENT")
            let expected = try await sim.expected(SimulatorHarness.gmailAddress, start: Self.start, end: Self.end)
            #expect(inbox.count + sent.count == expected.count)
            #expect(Set(inbox + sent) == expected)
            #expect(expected.count > 300)
        }
    }

    @Test("messages come newest first; full format has attachment parts whose ids change on every fetch")
    func getFormatsAndAttachmentIDs() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let base = sim.server.gmailBaseURL + "/gmail/v1/users/me/messages"
            let list = try sim.json(try await sim.send(base + "?q=has:attachment&maxResults=5", token: token))
            let ids = try #require(list["messages"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            var dates: [Int] = []
            for id in ids {
                let minimal = try sim.json(try await sim.send("\(base)/\(id)?format=minimal", token: token))
                #expect(minimal["payload"] == nil)
                dates.append(Int(try #require(minimal["internalDate"] as? String)) ?? 0)
            }
            #expect(dates == dates.sorted(by: >))
            func attachmentIDs() async throws -> [String] {
                let full = try sim.json(try await sim.send("\(base)/\(ids[0])?format=full", token: token))
                let parts = try #require((full["payload"] as? [String: Any])?["parts"] as? [[String: Any]])
                return parts.compactMap { ($0["body"] as? [String: Any])?["attachmentId"] as? String }
            }
            let first = try await attachmentIDs(), second = try await attachmentIDs()
            #expect(!first.isEmpty)
            #expect(first.count == second.count)
            #expect(Set(first).isDisjoint(with: second))
            let metadata = try sim.json(try await sim.send("\(base)/\(ids[0])?format=metadata&metadataHeaders=Subject",
                                                           token: token))
            let headers = try #require((metadata["payload"] as? [String: Any])?["headers"] as? [[String: Any]])
            #expect(headers.map { $0["name"] as? String } == ["Subject"])
        }
    }

    @Test("a batch answers each part in order with its Content-ID, and each part is charged to the quota")
    func batch() async throws {
        var knobs = SimulatorKnobs()
        knobs.gmailUserUnitsPerMinute = 100
        try await SimulatorHarness.with(knobs: knobs) { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let list = try sim.json(try await sim.send(sim.server.gmailBaseURL + "/gmail/v1/users/me/messages?maxResults=3",
                                                       token: token))
            let ids = try #require(list["messages"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            var body = ""
            for (number, id) in ids.enumerated() {
                body += "--b1\r\nContent-Type: application/http\r\nContent-ID: <item-\(number)>\r\n\r\n"
                body += "GET /gmail/v1/users/me/messages/\(id)?format=minimal\r\n\r\n"
            }
            body += "--b1--\r\n"
            let response = try await sim.send("POST", sim.server.gmailBaseURL + "/batch/gmail/v1", token: token,
                                              headers: [("Content-Type", "multipart/mixed; boundary=b1")],
                                              body: Data(body.utf8))
            #expect(response.status == 200)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 3)
            #expect(text.range(of: "<response-item-0>")!.lowerBound < text.range(of: "<response-item-2>")!.lowerBound)
            for id in ids { #expect(text.contains(id)) }
            let journal = try await sim.control("GET", "/journal?mailbox=\(SimulatorHarness.gmailAddress)")
            #expect((journal["value"] as? [[String: Any]])?.count == 4)
            // 5 (list) + 3 × 5 (gets) = 20 units spent; 80 left: 16 more gets, then refusals.
            let refused = try await sim.send(sim.server.gmailBaseURL + "/gmail/v1/users/me/messages/\(ids[0])", token: token)
            #expect(refused.status == 200)
        }
    }

    @Test("history lists injected mail after the stored id, and 404s once cursors expire")
    func history() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let base = sim.server.gmailBaseURL + "/gmail/v1/users/me"
            let profile = try sim.json(try await sim.send(base + "/profile", token: token))
            let start = try #require(profile["historyId"] as? String)
            let injected = try await sim.control("POST", "/mailboxes/\(SimulatorHarness.gmailAddress)/inject",
                                                 ["folder": "inbox", "count": 2])
            let newIDs = try #require(injected["ids"] as? [String])
            let history = try sim.json(try await sim.send(base + "/history?startHistoryId=\(start)&historyTypes=messageAdded",
                                                          token: token))
            let records = try #require(history["history"] as? [[String: Any]])
            let added = records.flatMap { ($0["messagesAdded"] as? [[String: Any]]) ?? [] }
                .compactMap { ($0["message"] as? [String: Any])?["id"] as? String }
            #expect(added == newIDs)
            #expect(history["historyId"] as? String == injected["historyId"] as? String)
            let caughtUp = try sim.json(try await sim.send(base + "/history?startHistoryId=\(history["historyId"] as? String ?? "")",
                                                           token: token))
            #expect(caughtUp["history"] == nil)
            try await sim.control("POST", "/cursors/expire", ["mailbox": SimulatorHarness.gmailAddress])
            #expect(try await sim.send(base + "/history?startHistoryId=\(start)", token: token).status == 404)
        }
    }

    @Test("a batch larger than the per-user concurrency cap gets per-part 429s inside a 200")
    func batchTripsConcurrencyCap() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            let list = try sim.json(try await sim.send(sim.server.gmailBaseURL + "/gmail/v1/users/me/messages?maxResults=20",
                                                       token: token))
            let ids = try #require(list["messages"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            var body = ""
            for id in ids {
                body += "--b2\r\nContent-Type: application/http\r\n\r\nGET /gmail/v1/users/me/messages/\(id)?format=minimal\r\n\r\n"
            }
            body += "--b2--\r\n"
            let response = try await sim.send("POST", sim.server.gmailBaseURL + "/batch/gmail/v1", token: token,
                                              headers: [("Content-Type", "multipart/mixed; boundary=b2")],
                                              body: Data(body.utf8))
            #expect(response.status == 200)
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 10)
            #expect(text.components(separatedBy: "HTTP/1.1 429 Too Many Requests").count - 1 == 10)
            #expect(text.contains("Too many concurrent requests for user"))
        }
    }
}
