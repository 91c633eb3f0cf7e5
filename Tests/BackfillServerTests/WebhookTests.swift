import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Webhooks")
struct WebhookTests {
    @Test("Graph's validation handshake is answered first, as plain text, even when the API needs a token")
    func graphHandshake() async throws {
        var options = ServerHarness.Options()
        options.token = "api-token"
        try await ServerHarness.with(options) { server in
            let reply = try await server.request("POST", "/webhooks/graph?validationToken=Validation%3A%20Testing%20client%20application",
                                                 body: Data("not json".utf8), token: "")
            #expect(reply.status == 200)
            #expect(reply.text == "Validation: Testing client application")
            #expect(reply.headers["Content-Type"]?.hasPrefix("text/plain") == true)
        }
    }

    @Test("the validation token comes back form-decoded: + is a space, %2B a plus, as Graph encodes it")
    func graphHandshakeFormEncoded() async throws {
        try await ServerHarness.with { server in
            let reply = try await server.request(
                "POST", "/webhooks/graph?validationToken=Validation%3A+Testing+client+Request-Id%3A+a%2Bb", body: Data()
            )
            #expect(reply.status == 200)
            #expect(reply.text == "Validation: Testing client Request-Id: a+b")
        }
    }

    @Test("a Graph notification with the right clientState marks the connection dirty and nudges it; a wrong one changes nothing")
    func graphNotifications() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            try await server.directory.registerSubscription("sub-1", for: connection.id)
            try await server.directory.setSecret("secret-state", field: WebhookRoutes.graphClientStateField, for: connection.id)
            func notify(_ clientState: String, lifecycle: String? = nil) async throws -> Int {
                let event = lifecycle.map { #", "lifecycleEvent": "\#($0)""# } ?? ""
                return try await server.request("POST", "/webhooks/graph", json: """
                    {"value": [{"subscriptionId": "sub-1", "clientState": "\(clientState)", "changeType": "created", "resource": "me/messages/1"\(event)}]}
                    """).status
            }
            #expect(try await notify("wrong-state") == 202)
            #expect(try await server.directory.dirtyCount(connection.id) == 0)
            #expect(try await server.nudged().isEmpty)

            #expect(try await notify("secret-state") == 202)
            #expect(try await server.directory.dirtyCount(connection.id) == 1)
            #expect(try await server.nudged() == [connection.id])

            #expect(try await notify("secret-state", lifecycle: "missed") == 202)
            #expect(try await server.directory.dirtyCount(connection.id) == 2)
            #expect(try await server.directory.syncState(for: connection.id)[WebhookRoutes.graphLifecycleField] == "missed")

            let unknown = try await server.request("POST", "/webhooks/graph", json: #"{"value": [{"subscriptionId": "sub-x", "clientState": "secret-state"}]}"#)
            #expect(unknown.status == 202)
        }
    }

    /// A Gmail push URL token for the tests that are not about push authentication (see GmailPushTests).
    static let pushToken = "webhook-tests-push-token-0123456789abcdef"

    @Test("malformed webhook bodies get 400 and change nothing")
    func malformed() async throws {
        var options = ServerHarness.Options()
        options.gmailPush = GmailPushAuthentication(urlToken: Self.pushToken)
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", "someone@gmail.com")
            let gmail = "/webhooks/gmail?token=\(Self.pushToken)"
            for (path, body) in [("/webhooks/graph", "{"), ("/webhooks/graph", #"{"value": "x"}"#), (gmail, "[]"),
                                 (gmail, #"{"message": {"data": "%%%"}}"#),
                                 (gmail, #"{"message": {"data": "bm90IGpzb24"}}"#)] {
                let reply = try await server.request("POST", path, json: body)
                #expect(reply.status == 400, "\(path) \(body)")
                #expect(try reply.error().code == "invalid_notification")
            }
            #expect(try await server.directory.dirtyCount(connection.id) == 0)
            #expect(try await server.nudged().isEmpty)
        }
    }

    @Test("an authenticated Gmail Pub/Sub push marks the mailbox's connection dirty, nudges it and answers 204")
    func gmailPush() async throws {
        var options = ServerHarness.Options()
        options.gmailPush = GmailPushAuthentication(urlToken: Self.pushToken)
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", "Someone@Gmail.com")
            let payload = Data(#"{"emailAddress": "someone@gmail.com", "historyId": 9876543}"#.utf8).base64EncodedString()
            let reply = try await server.request("POST", "/webhooks/gmail?token=\(Self.pushToken)", json: """
                {"message": {"data": "\(payload)", "messageId": "m-1", "publishTime": "2025-01-01T00:00:00Z"}, "subscription": "projects/p/subscriptions/s"}
                """)
            #expect(reply.status == 204)
            #expect(try await server.directory.dirtyCount(connection.id) == 1)
            #expect(try await server.nudged() == [connection.id])
        }
    }
}
