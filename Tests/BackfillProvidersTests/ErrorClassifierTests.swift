import BackfillCore
import BackfillHTTP
@testable import BackfillProviders
import Foundation
import Testing

@Suite("Provider error classification")
struct ErrorClassifierTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func response(_ status: Int, _ body: String, retryAfter: String? = nil) -> HTTPResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let retryAfter { headers.add("Retry-After", retryAfter) }
        return HTTPResponse(status: status, headers: headers, body: Data(body.utf8))
    }

    func graph(_ status: Int, code: String = "", retryAfter: String? = nil) -> ProviderFailure {
        let body = code.isEmpty ? "" : #"{"error":{"code":"\#(code)","message":"x"}}"#
        return GraphErrorClassifier.failure(for: response(status, body, retryAfter: retryAfter), route: "graph GET test", now: now)
    }

    func gmail(_ status: Int, reason: String, retryAfter: String? = nil) -> ProviderFailure {
        let body = #"{"error":{"code":\#(status),"message":"x","errors":[{"reason":"\#(reason)"}]}}"#
        return GmailErrorClassifier.failure(for: response(status, body, retryAfter: retryAfter), route: "gmail GET test", now: now)
    }

    @Test("Graph 429 and 503 with Retry-After are throttled for exactly that delay, fractional or dated")
    func graphThrottled() {
        #expect(graph(429, code: "TooManyRequests", retryAfter: "10") == .throttled(retryAfter: .seconds(10)))
        #expect(graph(429, code: "ApplicationThrottled", retryAfter: "2.128") == .throttled(retryAfter: .milliseconds(2128)))
        #expect(graph(503, retryAfter: "Tue, 14 Nov 2023 22:13:50 GMT") == .throttled(retryAfter: .seconds(30)))
        #expect(graph(429) == .throttled(retryAfter: nil))
    }

    @Test("Graph 5xx without Retry-After is transient")
    func graphTransient() {
        #expect(graph(503, code: "MailboxInfoStale") == .transient("graph GET test: HTTP 503 MailboxInfoStale"))
        #expect(graph(504) == .transient("graph GET test: HTTP 504"))
    }

    @Test("Graph access denied and missing mailboxes are permission lost; 410 is an expired cursor")
    func graphPermanent() {
        #expect(graph(403, code: "ErrorAccessDenied").code == .permissionLost)
        #expect(graph(404, code: "MailboxNotEnabledForRESTAPI").code == .permissionLost)
        #expect(graph(404, code: "ErrorInvalidUser").code == .permissionLost)
        #expect(graph(410, code: "SyncStateNotFound").code == .cursorExpired)
        #expect(graph(400, code: "syncStateNotFound").code == .cursorExpired)
        #expect(graph(400, code: "InefficientFilter").code == .invalidResponse)
    }

    @Test("Gmail rate limits are throttled whether they come as 403 or 429, with or without Retry-After")
    func gmailThrottled() {
        #expect(gmail(403, reason: "userRateLimitExceeded") == .throttled(retryAfter: nil))
        #expect(gmail(403, reason: "rateLimitExceeded", retryAfter: "7") == .throttled(retryAfter: .seconds(7)))
        #expect(gmail(429, reason: "rateLimitExceeded") == .throttled(retryAfter: nil))
    }

    @Test("Gmail scope, delegation and policy refusals are permission lost; 5xx is transient")
    func gmailOthers() {
        #expect(gmail(403, reason: "insufficientPermissions").code == .permissionLost)
        #expect(gmail(403, reason: "domainPolicy").code == .permissionLost)
        #expect(gmail(400, reason: "failedPrecondition").code == .permissionLost)
        #expect(gmail(500, reason: "backendError") == .transient("gmail GET test: HTTP 500 backendError"))
    }
}
