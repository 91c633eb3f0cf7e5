import BackfillHTTP
import Foundation
import Testing

@testable import BackfillProviders

@Suite("Gmail batch bodies")
struct GmailBatchBodyTests {
    func reply(_ text: String, boundary: String = "batch_x") -> HTTPResponse {
        HTTPResponse(status: 200, headers: ["Content-Type": "multipart/mixed; boundary=\(boundary)"],
                     body: Data(text.replacingOccurrences(of: "\n", with: "\r\n").utf8))
    }

    @Test("the request names each call by Content-ID and path only")
    func request() {
        let body = String(decoding: GmailBatchBody.request(paths: ["/gmail/v1/users/me/messages/a?format=full"], boundary: "b1"), as: UTF8.self)
        #expect(body == "--b1\r\nContent-Type: application/http\r\nContent-ID: <item-0>\r\n\r\nGET /gmail/v1/users/me/messages/a?format=full\r\n\r\n--b1--\r\n")
    }

    @Test("answers come back in request order by Content-ID, whatever order the parts are in; an empty answer reads")
    func orderById() throws {
        let text = """
        --batch_x
        Content-Type: application/http
        Content-ID: <response-item-1>

        HTTP/1.1 429 Too Many Requests
        Content-Type: application/json

        {"error":{"code":429}}
        --batch_x
        Content-Type: application/http
        Content-ID: <response-item-0>

        HTTP/1.1 200 OK
        Content-Type: application/json

        {"id":"a"}
        --batch_x
        Content-Type: application/http
        Content-ID: <response-item-2>

        HTTP/1.1 503 Service Unavailable
        --batch_x--

        """
        let calls = try GmailBatchBody.responses(of: reply(text), count: 3)
        #expect(calls.map(\.status) == [200, 429, 503])
        #expect(String(decoding: calls[0].body, as: UTF8.self) == "{\"id\":\"a\"}")
        #expect(calls[1].headers["Content-Type"] == "application/json")
        #expect(calls[2].body.isEmpty)
    }

    @Test("garbage is refused, never trusted", arguments: [
        ("text/plain", "--batch_x\nContent-Type: application/http\n\nHTTP/1.1 200 OK\n\n{}\n--batch_x--\n"),
        ("multipart/mixed; boundary=batch_x", "no parts at all"),
        ("multipart/mixed; boundary=batch_x", "--batch_x\nContent-Type: application/http\n\nnot http\n--batch_x--\n"),
        ("multipart/mixed; boundary=batch_x", "--batch_x\nContent-Type: application/http\n\nHTTP/1.1 200 OK\n\n{}\n--batch_x--\n"),
    ])
    func garbage(contentType: String, text: String) {
        let response = HTTPResponse(status: 200, headers: ["Content-Type": contentType], body: Data(text.utf8))
        // The last case is readable but holds one answer for two calls.
        #expect(throws: GmailBatchBodyError.self) { try GmailBatchBody.responses(of: response, count: 2) }
    }
}
