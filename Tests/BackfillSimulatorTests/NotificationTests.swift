import BackfillHTTP
import BackfillSimulator
import Foundation
import Testing

@Suite("Change notifications and pushes")
struct NotificationTests {
    @Test("a Graph subscription is validated, then new Inbox mail is notified with its clientState and immutable id")
    func graphSubscription() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let sink = sim.server.controlBaseURL + "/sink/graph"
            let request: [String: Any] = [
                "changeType": "created,deleted", "notificationUrl": sink, "lifecycleNotificationUrl": sink + "?lifecycle=1",
                "resource": "/me/mailFolders('inbox')/messages", "clientState": "s3cr3t",
                "expirationDateTime": "2026-11-28T12:00:00Z",
            ]
            let created = try await sim.send("POST", sim.server.graphBaseURL + "/subscriptions", token: token,
                                             headers: [("Content-Type", "application/json"),
                                                       ("Prefer", "IdType=\"ImmutableId\"")],
                                             body: try JSONSerialization.data(withJSONObject: request))
            #expect(created.status == 201)
            let subscriptionID = try #require(try sim.json(created)["id"] as? String)
            let injected = try await sim.control("POST", "/mailboxes/\(SimulatorHarness.graphAddress)/inject", ["folder": "inbox"])
            let newID = try #require((injected["ids"] as? [String])?.first)
            let received = try #require(try await sim.control("GET", "/sink/graph")["value"] as? [String])
            #expect(received.count == 1)
            let notification = try #require(
                (try JSONSerialization.jsonObject(with: Data(received[0].utf8)) as? [String: Any])?["value"] as? [[String: Any]])
            #expect(notification.first?["clientState"] as? String == "s3cr3t")
            #expect(notification.first?["subscriptionId"] as? String == subscriptionID)
            #expect(notification.first?["changeType"] as? String == "created")
            #expect((notification.first?["resourceData"] as? [String: Any])?["id"] as? String == newID)
            let tooLong = try await sim.send("PATCH", sim.server.graphBaseURL + "/subscriptions/\(subscriptionID)", token: token,
                                             headers: [("Content-Type", "application/json")],
                                             body: Data(#"{"expirationDateTime":"2026-12-30T00:00:00Z"}"#.utf8))
            #expect(tooLong.status == 400)
            let deleted = try await sim.send("DELETE", sim.server.graphBaseURL + "/subscriptions/\(subscriptionID)",
                                             token: token, body: nil)
            #expect(deleted.status == 204)
        }
    }

    @Test("a subscription whose endpoint does not echo the validation token is refused with ValidationError")
    func failedValidation() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.graphAddress).access
            let request: [String: Any] = [
                "changeType": "created", "notificationUrl": sim.server.controlBaseURL + "/health",
                "resource": "/me/mailFolders('inbox')/messages", "clientState": "x",
                "expirationDateTime": "2026-11-26T12:00:00Z",
            ]
            let refused = try await sim.send("POST", sim.server.graphBaseURL + "/subscriptions", token: token,
                                             headers: [("Content-Type", "application/json")],
                                             body: try JSONSerialization.data(withJSONObject: request))
            #expect(refused.status == 400)
            #expect((try sim.json(refused)["error"] as? [String: Any])?["code"] as? String == "ValidationError")
        }
    }

    @Test("a Gmail watch pushes a Pub/Sub envelope whose data holds the new numeric historyId")
    func gmailWatchPush() async throws {
        try await SimulatorHarness.with { sim in
            let token = try await sim.tokens(for: SimulatorHarness.gmailAddress).access
            try await sim.control("POST", "/pubsub", ["topicName": "projects/p/topics/gmail",
                                                      "pushEndpoint": sim.server.controlBaseURL + "/sink/gmail"])
            let watch = try await sim.send("POST", sim.server.gmailBaseURL + "/gmail/v1/users/me/watch", token: token,
                                           headers: [("Content-Type", "application/json")],
                                           body: Data(#"{"topicName":"projects/p/topics/gmail","labelIds":["INBOX"]}"#.utf8))
            #expect(watch.status == 200)
            #expect(try sim.json(watch)["expiration"] is String)
            let injected = try await sim.control("POST", "/mailboxes/\(SimulatorHarness.gmailAddress)/inject", ["folder": "inbox"])
            let received = try #require(try await sim.control("GET", "/sink/gmail")["value"] as? [String])
            #expect(received.count == 1)
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(received[0].utf8)) as? [String: Any])
            let data = try #require(((envelope["message"] as? [String: Any])?["data"] as? String).flatMap { Data(base64Encoded: $0) })
            let payload = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(payload["emailAddress"] as? String == SimulatorHarness.gmailAddress)
            #expect((payload["historyId"] as? NSNumber)?.stringValue == injected["historyId"] as? String)
            try await sim.control("POST", "/mailboxes/\(SimulatorHarness.gmailAddress)/inject", ["folder": "archive"])
            #expect((try await sim.control("GET", "/sink/gmail")["value"] as? [String])?.count == 1, "archive is not INBOX")
        }
    }
}
