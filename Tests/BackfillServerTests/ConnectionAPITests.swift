import BackfillCore
@testable import BackfillScheduler
@testable import BackfillServer
import Foundation
import Testing

@Suite("Connections API")
struct ConnectionAPITests {
    @Test("connect answers 201 with every key, and the same provider and address reconnect to the same id with 200")
    func connectAndReconnect() async throws {
        try await ServerHarness.with { server in
            let first = try await server.request("POST", "/v1/connections", json: """
                {"provider": "graph", "address": "Personal@Acme.com", "accessToken": "a", "refreshToken": "r", "expiresAt": "2030-01-01T00:00:00Z"}
                """)
            #expect(first.status == 201)
            let object = try #require(try JSONSerialization.jsonObject(with: first.body) as? [String: Any])
            #expect(Set(object.keys) == ["id", "provider", "address", "parentId", "parentAddress", "health", "error", "backfill", "realtime", "auth"])
            #expect(object["backfill"] is NSNull && object["parentId"] is NSNull && object["auth"] as? String == "delegated")
            let created = try first.decode(ConnectionView.self)
            #expect(created.health == .healthy && created.provider == .graph && created.address == "Personal@Acme.com")

            let again = try await server.request("POST", "/v1/connections", json: """
                {"provider": "graph", "address": "personal@acme.com", "accessToken": "a2", "refreshToken": "r2"}
                """)
            #expect(again.status == 200)
            #expect(try again.decode(ConnectionView.self).id == created.id)
            let credentials = try await server.directory.credentials(for: created.id)
            #expect(credentials?.accessToken == "a2")

            let list = try await server.request("GET", "/v1/connections").decode(ConnectionList.self)
            #expect(list.connections.map(\.id) == [created.id])
            #expect(try await server.connection(created.id).address == "personal@acme.com")
        }
    }

    @Test("bad connect bodies get a 4xx JSON error that says what was wrong")
    func connectRefusals() async throws {
        try await ServerHarness.with { server in
            let cases: [(json: String, status: Int, code: String, mentions: String)] = [
                ("{not json", 400, "invalid_json", "JSON"),
                ("[1, 2]", 400, "invalid_json", "object"),
                (#"{"provider": "graph", "address": "a@b.com", "refreshToken": "r"}"#, 400, "missing_field", "accessToken"),
                (#"{"provider": "yahoo", "address": "a@b.com", "accessToken": "a", "refreshToken": "r"}"#, 400, "unknown_provider", "yahoo"),
                (#"{"provider": "graph", "address": "nobody", "accessToken": "a", "refreshToken": "r"}"#, 400, "invalid_field", "address"),
                (#"{"provider": "graph", "address": "a@b.com", "accessToken": 7, "refreshToken": "r"}"#, 400, "invalid_field", "accessToken"),
                (#"{"provider": "graph", "address": "a@b.com", "accessToken": "a", "refreshToken": "r", "colour": "red"}"#, 400, "unknown_field", "colour"),
                (#"{"provider": "graph", "address": "a@b.com", "accessToken": "a", "refreshToken": "r", "expiresAt": "soon"}"#, 400, "invalid_field", "expiresAt"),
                (#"{"provider": "graph", "address": "a@b.com", "accessToken": "a", "refreshToken": "r", "parentId": "c_missing"}"#, 404, "not_found", "c_missing"),
            ]
            for item in cases {
                let reply = try await server.request("POST", "/v1/connections", json: item.json)
                #expect(reply.status == item.status, "\(item.json)")
                let error = try reply.error()
                #expect(error.code == item.code, "\(item.json)")
                #expect(error.message.contains(item.mentions), "\(error.message)")
                #expect(!error.message.contains("secret"))
            }
            let huge = "{\"provider\": \"graph\", \"address\": \"a@b.com\", \"accessToken\": \"\(String(repeating: "x", count: 70_000))\", \"refreshToken\": \"r\"}"
            let tooLarge = try await server.request("POST", "/v1/connections", json: huge)
            #expect(tooLarge.status == 413)
            #expect(try tooLarge.error().code == "body_too_large")
            #expect(try await server.request("GET", "/v1/connections").decode(ConnectionList.self).connections.isEmpty)
        }
    }

    @Test("unknown ids and unknown routes get 404 with the JSON error")
    func unknownIds() async throws {
        try await ServerHarness.with { server in
            for (method, path) in [("GET", "/v1/connections/c_nope"), ("DELETE", "/v1/connections/c_nope"),
                                   ("POST", "/v1/connections/c_nope/backfill/pause"), ("POST", "/v1/connections/c_nope/nudge"),
                                   ("GET", "/v1/connections/c_nope/messages"), ("GET", "/v1/connections/c_nope/events"),
                                   ("GET", "/v1/nothing-here")] {
                let reply = try await server.request(method, path, json: method == "POST" ? "{}" : nil)
                #expect(reply.status == 404, "\(method) \(path)")
                #expect(try reply.error().code == "not_found", "\(method) \(path)")
            }
            let start = try await server.request("POST", "/v1/connections/c_nope/backfill", json: #"{"range": "90d"}"#)
            #expect(start.status == 404)
        }
    }

    @Test("a shared mailbox shows its parent's address, and reconnecting the parent requeues children waiting on it")
    func parentReconnectNudgesChildren() async throws {
        try await ServerHarness.with { server in
            let parent = try await server.connect("graph", "personal@acme.com")
            let child = try await server.connect("graph", "support@acme.com", parentId: parent.id)
            #expect(child.parentId == parent.id && child.parentAddress == "personal@acme.com")
            #expect(try await server.request("POST", "/v1/connections/\(child.id)/backfill", json: #"{"range": "30d"}"#).status == 200)
            // The worker side parks a child whose parent cannot lend its token; do that by hand.
            _ = try await server.scheduler.redis.send(["HSET", server.scheduler.keys.backfill(child.id), "state", "waiting_on_parent"])
            let waiting = try await server.connection(child.id)
            #expect(waiting.health == .waitingOnParent && waiting.backfill?.state == .waitingOnParent)

            _ = try await server.connect("graph", "personal@acme.com")
            #expect(try await server.connection(child.id).backfill?.state == .queued)
            #expect(try await server.nudged().contains(child.id))
        }
    }

    @Test("disconnect removes the credentials and keeps the stored messages")
    func disconnectKeepsMessages() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", "someone@gmail.com")
            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "90d"}"#)
            try await server.wait(for: connection.id, "completion") { $0.backfill?.state == .completed }
            let reply = try await server.request("DELETE", "/v1/connections/\(connection.id)")
            #expect(reply.status == 200)
            #expect(try reply.decode(ConnectionView.self).health == .disconnected)
            #expect(try await server.directory.credentials(for: connection.id) == nil)
            #expect(try await server.app.store.count(connectionId: connection.id) == 25)
            let start = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "30d"}"#)
            #expect(start.status == 409)
        }
    }

    @Test("the badge shows a health someone must act on, else what the backfill is doing")
    func healthDerivation() {
        #expect(ConnectionView.health(stored: .error, backfill: .running) == .error)
        #expect(ConnectionView.health(stored: .disconnected, backfill: nil) == .disconnected)
        for state in [BackfillState.queued, .running, .throttled] {
            #expect(ConnectionView.health(stored: .healthy, backfill: state) == .syncing)
        }
        #expect(ConnectionView.health(stored: .healthy, backfill: .waitingOnParent) == .waitingOnParent)
        for state in [BackfillState.paused, .completed, .cancelled, .failed] {
            #expect(ConnectionView.health(stored: .healthy, backfill: state) == .healthy)
        }
        #expect(ConnectionView.health(stored: .healthy, backfill: nil) == .healthy)
    }
}
