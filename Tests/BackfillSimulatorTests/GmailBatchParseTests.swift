@testable import BackfillSimulator
import Foundation
import Testing

/// The batch endpoint's multipart parser: the same parts (or the same refusal) for every body as before.
@Suite("Gmail batch parsing")
struct GmailBatchParseTests {
    static let outer = ["authorization": "Bearer t", "content-type": "multipart/mixed; boundary=b",
                        "content-length": "300", "x-extra": "1"]

    static func parse(_ text: String, boundary: String = "b") -> [BatchPartSnapshot]? {
        GmailBatch.parse(Data(text.utf8), boundary: boundary, headers: outer).map { $0.map(BatchPartSnapshot.init) }
    }

    static func legacy(_ text: String, boundary: String = "b") -> [BatchPartSnapshot]? {
        LegacyParsers.parseBatch(Data(text.utf8), boundary: boundary, headers: outer)
    }

    @Test("the client's body: parts with Content-IDs, queries and inherited headers")
    func clientBody() throws {
        let text = "--batch_1\r\nContent-Type: application/http\r\nContent-ID: <item-0>\r\n\r\n"
            + "GET /gmail/v1/users/me/messages/0123456789abcdef?format=metadata&metadataHeaders=From&metadataHeaders=Subject\r\n\r\n"
            + "--batch_1\r\nContent-Type: application/http\r\nContent-ID: <item-1>\r\n\r\nGET /gmail/v1/users/me/messages\r\n\r\n"
            + "--batch_1--\r\n"
        let parts = try #require(Self.parse(text, boundary: "batch_1"))
        #expect(parts.count == 2)
        #expect(parts[0].contentID == "item-0")
        #expect(parts[0].method == "GET")
        #expect(parts[0].path == "/gmail/v1/users/me/messages/0123456789abcdef")
        #expect(parts[0].query == [["format", "metadata"], ["metadataHeaders", "From"], ["metadataHeaders", "Subject"]])
        #expect(parts[0].headers == ["authorization": "Bearer t", "x-extra": "1"])
        #expect(parts[0].body.isEmpty)
        #expect(parts[0].userID == "me")
        #expect(parts[0].rest == ["messages", "0123456789abcdef"])
        #expect(parts[1].contentID == "item-1")
        #expect(parts[1].path == "/gmail/v1/users/me/messages")
        #expect(parts[1].query.isEmpty)
        #expect(parts[1].rest == ["messages"])
        #expect(parts == Self.legacy(text, boundary: "batch_1"))
    }

    @Test("a POST part: bare newlines, a doubled /gmail prefix, part headers over the outer ones, a body with a blank line")
    func postPart() throws {
        let text = "preamble\n--b\nContent-Type: application/http\n\npost /gmail/gmail/v1/users/u@x.com/watch HTTP/1.1\n"
            + "Authorization:  Bearer part \nContent-Type: application/json\nNoColon\n\n{\"topicName\":\"t\"}\n\n{\"x\":1}\n\n--b--\nepilogue"
        let parts = try #require(Self.parse(text))
        #expect(parts.count == 1)
        #expect(parts[0].contentID == nil)
        #expect(parts[0].method == "POST")
        #expect(parts[0].path == "/gmail/v1/users/u@x.com/watch")
        #expect(parts[0].headers == ["authorization": "Bearer part", "content-type": "application/json", "x-extra": "1"])
        #expect(parts[0].body == Data("{\"topicName\":\"t\"}\n\n{\"x\":1}".utf8))
        #expect(parts[0].userID == "u@x.com")
        #expect(parts[0].rest == ["watch"])
        #expect(parts == Self.legacy(text))
    }

    @Test("bodies without parts give no parts; parts after the closing boundary are ignored")
    func noParts() throws {
        #expect(Self.parse("") == [])
        #expect(Self.parse("just text\r\n") == [])
        #expect(Self.parse("--b--\r\n--b\r\nX: y\r\n\r\nGET /gmail/v1/users/me/profile\r\n") == [])
        let one = "--b\r\nX: y\r\n\r\nGET /gmail/v1/users/me/profile\r\n--b--\r\n--b\r\nX: y\r\n\r\nGET /gmail/v1/users/me/labels\r\n"
        #expect(try #require(Self.parse(one)).map(\.path) == ["/gmail/v1/users/me/profile"])
    }

    @Test("malformed parts refuse the whole batch")
    func malformed() {
        // No blank line between the part's headers and its request.
        #expect(Self.parse("--b\r\nContent-Type: application/http\r\n\r\n\r\n--b--") == nil)
        // A request line without a target.
        #expect(Self.parse("--b\r\nX: y\r\n\r\nGET\r\n--b--") == nil)
        // Not a Gmail users path, or too short a one.
        #expect(Self.parse("--b\r\nX: y\r\n\r\nGET /calendar/v3/users/me/x\r\n--b--") == nil)
        #expect(Self.parse("--b\r\nX: y\r\n\r\nGET /gmail/v1/users/me\r\n--b--") == nil)
        // A target of only `?` (the String parser trapped on it), in a plain body and in one with non-ASCII.
        #expect(Self.parse("--b\r\nX: y\r\n\r\nGET ?? HTTP/1.1\r\n--b--") == nil)
        #expect(Self.parse("--b\r\nX: é\r\n\r\nGET ? HTTP/1.1\r\n--b--") == nil)
        // One bad part spoils good ones before it.
        #expect(Self.parse("--b\r\nX: y\r\n\r\nGET /gmail/v1/users/me/profile\r\n--b\r\nX: y\r\n--b--") == nil)
    }

    @Test("random bodies of headers, requests, stray carriage returns and non-ASCII parse as before")
    func matchesLegacy() {
        // Plain bodies (ASCII, every CR before an LF) first, then ones with stray CRs and non-ASCII as well.
        let plainNewlines = ["\r\n", "\n", "\r\n", "\u{0B}", "\u{0C}", "\r\n\r\n", "\n\n"]
        let plainHeaders = ["Content-Type: application/http", "Content-ID: <item-7>", "content-id:<x>", "X-Odd:  v \t",
                            "NoColon", "", "Content-ID: <<y>>", "Authorization: Bearer in", ": empty", "CONTENT-id: z"]
        let plainRequests = ["GET /gmail/v1/users/me/messages/abc?format=full", "GET /gmail/gmail/v1/users/me/messages",
                             "POST /gmail/v1/users/me/watch HTTP/1.1", "GET", "GET  /gmail/v1/users/me/labels/INBOX",
                             "get /gmail/v1/users/me/history?startHistoryId=5&x=%zz+1", "GET /x/v1/users/me/a",
                             "GET /gmail/v1/users/me", "GET ?q=1 /gmail", "\tGET /gmail/v1/users/me/profile",
                             "GET /gmail/v1/users/me/messages/x??a=1&&b", "GET //gmail//v1/users/me/messages/%41?%24a=%C3%A9"]
        let plainBodies = ["", "{\"a\":1}", "x\n\ny", "\n", "--", "b", "\n\n\n"]
        let plainBoundaries = ["--b", "--b", "--b--", "--bb", "-", "b", "---b"]
        var random = SeededRandom(seed: 1341)
        var nonEmpty = 0
        for round in 0 ..< 2 {
            let odd = round == 1
            let newlines = plainNewlines + (odd ? ["\r", "\r\r\n", "\u{2028}", "\u{85}"] : [])
            let headers = plainHeaders + (odd ? ["Content-ID: <é>", "X-\u{301}: y"] : [])
            let requests = plainRequests + (odd ? ["GET /gmail/v1/users/é/messages/ü?q=ä+b", "GET /gmail/v1/users/me/\u{301}x"] : [])
            let bodies = plainBodies + (odd ? ["é", "\u{301}", "\r"] : [])
            let boundaries = plainBoundaries + (odd ? ["--b\u{301}", "\u{600}--b"] : [])
            func pick(_ options: [String]) -> String { options[Int(random.next() % UInt64(options.count))] }
            for _ in 0 ..< 5_000 {
                var text = random.next() % 4 == 0 ? "preamble" : ""
                for _ in 0 ..< Int(random.next() % 4) {
                    text += pick(boundaries) + pick(newlines)
                    for _ in 0 ..< Int(random.next() % 3) { text += pick(headers) + pick(newlines) }
                    text += pick(newlines) + pick(requests) + pick(newlines)
                    for _ in 0 ..< Int(random.next() % 2) { text += pick(headers) + pick(newlines) }
                    if random.next() % 2 == 0 { text += pick(newlines) + pick(bodies) + pick(bodies) }
                    text += pick(newlines)
                }
                if random.next() % 2 == 0 { text += "--b--" + pick(newlines) }
                let parts = Self.parse(text)
                #expect(parts == Self.legacy(text), "\(text.debugDescription)")
                if let parts, !parts.isEmpty { nonEmpty += 1 }
            }
        }
        #expect(nonEmpty > 500)
    }
}
