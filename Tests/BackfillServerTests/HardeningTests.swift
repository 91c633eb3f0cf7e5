import BackfillCore
@testable import BackfillScheduler
@testable import BackfillServer
import Foundation
import Testing

/// What a careless client or an attacker can send: each case failed (a crash, a 2xx, a wrong status or an
/// empty body) before its fix.
@Suite("Hardening")
struct HardeningTests {
    /// base64url of a JSON cursor, as the API hands them out.
    static func cursor(_ json: String) -> String {
        Data(json.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("a messages cursor out of the store's range is a 400 (it crashed the process), and real cursors still page")
    func cursorOutOfRange() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "cursor@acme.com")
            let path = "/v1/connections/\(connection.id)/messages"
            for json in [
                #"{"r":9223372036854775807,"p":"x"}"#, #"{"r":-9223372036854775808,"p":"x"}"#, #"{"r":100000000000001,"p":"x"}"#,
                #"{"r":1,"p":""}"#, #"{"r":1,"p":"a\u0000b"}"#, #"{"r":1.5e300,"p":"x"}"#, #"{"p":"x"}"#,
            ] {
                let reply = try await server.request("GET", path + "?after=" + Self.cursor(json))
                #expect(reply.status == 400, "\(json)")
                #expect(try reply.error().code == "invalid_cursor", "\(json)")
            }
            #expect(try await server.request("GET", path + "?after=eyJyIjo5MjIzMzcyMDM2ODU0Nzc1ODA3LCJwIjoieCJ9").status == 400)
            #expect(try await server.request("GET", "/healthz").status == 200)

            let now = Date(timeIntervalSince1970: 1_767_225_600)
            _ = try await server.app.store.insert((0..<3).map { index in
                StoredMessage(connectionId: connection.id, providerMessageId: "m\(index)", folder: .inbox, subject: "s",
                              receivedAt: now.addingTimeInterval(Double(-index)), source: .backfill)
            })
            let first = try await server.request("GET", path + "?limit=2").decode(MessagePageView.self)
            #expect(first.messages.map(\.providerMessageId) == ["m0", "m1"])
            let next = try #require(first.next)
            let second = try await server.request("GET", path + "?limit=2&after=" + next).decode(MessagePageView.self)
            #expect(second.messages.map(\.providerMessageId) == ["m2"] && second.next == nil)
        }
    }

    @Test("a /v1 body that is not JSON is 415 and changes nothing; a cross-site request is 403")
    func contentTypeAndOrigin() async throws {
        try await ServerHarness.with { server in
            let body = Data(#"{"provider": "graph", "address": "csrf@acme.com", "accessToken": "a", "refreshToken": "r"}"#.utf8)
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"] {
                let reply = try await server.request("POST", "/v1/connections", body: body, headers: [("Content-Type", type)])
                #expect(reply.status == 415, "\(type)")
                #expect(try reply.error().code == "unsupported_media_type", "\(type)")
            }
            let none = try await server.request("POST", "/v1/connections", body: body)
            #expect(none.status == 415)
            #expect(try await server.request("GET", "/v1/connections").decode(ConnectionList.self).connections.isEmpty)

            let created = try await server.request("POST", "/v1/connections", body: body,
                                                   headers: [("Content-Type", "Application/JSON; charset=utf-8")])
            #expect(created.status == 201)
            let id = try created.decode(ConnectionView.self).id
            _ = try await server.request("POST", "/v1/connections/\(id)/backfill", json: #"{"range": "30d"}"#)

            // A page elsewhere posting without a body (fetch no-cors sends no Content-Type) still says where it is from.
            for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
                let reply = try await server.request("POST", "/v1/connections/\(id)/backfill/pause", headers: [("Origin", origin)])
                #expect(reply.status == 403, "\(origin)")
                #expect(try reply.error().code == "cross_origin", "\(origin)")
            }
            #expect(try await server.connection(id).backfill?.state == .queued)
            let sameOrigin = try await server.request("POST", "/v1/connections/\(id)/backfill/pause",
                                                      headers: [("Origin", server.baseURL)])
            #expect(sameOrigin.status == 200)
            #expect(try await server.connection(id).backfill?.state == .paused)
        }
    }

    @Test("without an API token only loopback host names are served (DNS rebinding); a token or allowed hosts widen it")
    func hostNames() async throws {
        try await ServerHarness.with { server in
            for host in ["evil.example", "evil.example:\(server.port)", "127.0.0.1.evil.example", "10.0.0.1"] {
                for path in ["/v1/connections", "/", "/webhooks/graph?validationToken=x"] {
                    let reply = try await server.request("GET", path, headers: [("Host", host)])
                    #expect(reply.status == 403, "\(host) \(path)")
                    #expect(try reply.error().code == "host_not_allowed", "\(host) \(path)")
                }
            }
            for host in ["127.0.0.1:\(server.port)", "localhost:\(server.port)", "LOCALHOST", "[::1]:\(server.port)", "127.9.9.9"] {
                #expect(try await server.request("GET", "/v1/connections", headers: [("Host", host)]).status == 200, "\(host)")
            }
        }
        var options = ServerHarness.Options()
        options.token = String(repeating: "k", count: 32)
        try await ServerHarness.with(options) { server in
            let reply = try await server.request("GET", "/v1/connections", headers: [("Host", "backfill.example.com")])
            #expect(reply.status == 200)
        }
        options.allowedHosts = ["backfill.example.com"]
        try await ServerHarness.with(options) { server in
            for (host, status) in [("backfill.example.com:443", 200), ("evil.example", 403), ("127.0.0.1:\(server.port)", 200)] {
                let reply = try await server.request("GET", "/v1/connections", headers: [("Host", host)])
                #expect(reply.status == status, "\(host)")
            }
        }
    }

    @Test("every response says nosniff, errors and the console included")
    func noSniff() async throws {
        try await ServerHarness.with { server in
            for path in ["/v1/connections", "/v1/nothing-here", "/healthz", "/", "/console.js", "/openapi.json", "/v1/connections/c_x"] {
                let reply = try await server.request("GET", path)
                #expect(reply.headers["X-Content-Type-Options"] == "nosniff", "\(path) answered \(reply.status)")
            }
        }
    }

    @Test("a 100 KB path gets a 400 in the API's error shape, and the server goes on")
    func hugePath() async throws {
        try await ServerHarness.with { server in
            let reply = try await server.request("GET", "/v1/connections/" + String(repeating: "x", count: 100_000))
            #expect(reply.status == 400)
            #expect(try reply.error().code == "bad_request")
            #expect(reply.headers["Content-Type"]?.hasPrefix("application/json") == true)
            #expect(try await server.request("GET", "/healthz").status == 200)
        }
    }

    @Test("addresses with control characters are refused with 400 naming the field")
    func controlCharacters() async throws {
        try await ServerHarness.with { server in
            for address in ["a\u{0}b@acme.com", "a\u{1B}[31m@acme.com", "a@acme.com\u{7F}", "a\u{9B}b@acme.com", "a@acme\u{8}.com"] {
                let object: [String: String] = ["provider": "graph", "address": address, "accessToken": "a", "refreshToken": "r"]
                let reply = try await server.request("POST", "/v1/connections", body: try JSONSerialization.data(withJSONObject: object),
                                                     headers: [("Content-Type", "application/json")])
                #expect(reply.status == 400, "\(address.debugDescription)")
                #expect(try reply.error().code == "invalid_field")
                #expect(try reply.error().message.contains("address"))
            }
            #expect(try await server.request("GET", "/v1/connections").decode(ConnectionList.self).connections.isEmpty)
            // Counted in code points, as the API's schema is: a mark or an emoji modifier after the @ is fine.
            for address in ["a@\u{1F3FB}b.example", "a@b.\u{301}c", "\u{00AD}x@y.z"] {
                let object: [String: String] = ["provider": "gmail", "address": address, "accessToken": "a", "refreshToken": "r"]
                let reply = try await server.request("POST", "/v1/connections", body: try JSONSerialization.data(withJSONObject: object),
                                                     headers: [("Content-Type", "application/json")])
                #expect(reply.status == 201, "\(address.unicodeScalars.map { String($0.value, radix: 16) })")
            }
        }
    }

    @Test("reset, resume, retry and nudge on a disconnected mailbox are 409 and leave it disconnected; pause still works")
    func disconnectedMailbox() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "gone@acme.com")
            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "30d"}"#)
            let backfillId = try await server.connection(connection.id).backfill?.id
            #expect(try await server.request("DELETE", "/v1/connections/\(connection.id)").status == 200)
            let reset = try await server.request("POST", "/v1/connections/\(connection.id)/backfill/reset", json: #"{"range": "12m"}"#)
            #expect(reset.status == 409)
            #expect(try reset.error().code == "disconnected")
            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill/pause").status == 200)
            for command in ["backfill/resume", "backfill/retry", "nudge"] {
                let reply = try await server.request("POST", "/v1/connections/\(connection.id)/\(command)")
                #expect(reply.status == 409, "\(command)")
                #expect(try reply.error().code == "disconnected", "\(command)")
            }
            let view = try await server.connection(connection.id)
            #expect(view.health == .disconnected && view.error == nil)
            #expect(view.backfill?.id == backfillId && view.backfill?.state == .paused)
        }
    }

    @Test("a mailbox cannot be its own parent, nor become a shared mailbox while it lends its token to others")
    func parentCycles() async throws {
        try await ServerHarness.with { server in
            let personal = try await server.connect("graph", "me@acme.com")
            let other = try await server.connect("graph", "other@acme.com")
            func reconnect(_ address: String, parent: String) async throws -> ServerHarness.Reply {
                try await server.request("POST", "/v1/connections", json: """
                    {"provider": "graph", "address": "\(address)", "accessToken": "a", "refreshToken": "r", "parentId": "\(parent)"}
                    """)
            }
            let own = try await reconnect("ME@acme.com", parent: personal.id)
            #expect(own.status == 400)
            #expect(try own.error().code == "invalid_field" && own.error().message.contains("its own parent"))
            let shared = try await server.connect("graph", "shared@acme.com", parentId: personal.id)
            #expect(shared.parentId == personal.id)
            let chain = try await reconnect("me@acme.com", parent: other.id)
            #expect(chain.status == 400)
            #expect(try chain.error().message.contains("chain"))
            // And the shared mailbox's parent cannot be made a child of it (a cycle).
            let cycle = try await reconnect("me@acme.com", parent: shared.id)
            #expect(cycle.status == 400)
            #expect(try await server.connection(personal.id).parentId == nil)
        }
    }

    @Test("connections page in the order they were connected, with a cursor; bad paging input is 400")
    func paging() async throws {
        try await ServerHarness.with { server in
            var ids: [String] = []
            for index in 0..<7 { ids.append(try await server.connect("gmail", "user\(index)@gmail.com").id) }
            let shared = try await server.connect("graph", "shared@acme.com", parentId: try await server.connect("graph", "boss@acme.com").id)
            ids += [shared.parentId!, shared.id]
            var seen: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let page = try await server.request("GET", "/v1/connections?limit=4" + (after.map { "&after=" + $0 } ?? ""))
                    .decode(ConnectionList.self)
                seen += page.connections.map(\.id)
                if let view = page.connections.first(where: { $0.id == shared.id }) { #expect(view.parentAddress == "boss@acme.com") }
                after = page.next
                pages += 1
            } while after != nil && pages < 10
            #expect(seen == ids)
            #expect(pages == 3)
            let all = try await server.request("GET", "/v1/connections")
            let object = try #require(try JSONSerialization.jsonObject(with: all.body) as? [String: Any])
            #expect(object["next"] is NSNull)
            for query in ["limit=0", "limit=501", "limit=x", "after=nonsense", "after=" + String(repeating: "9", count: 300)] {
                let reply = try await server.request("GET", "/v1/connections?" + query)
                #expect(reply.status == 400, "\(query)")
                #expect(["invalid_limit", "invalid_cursor"].contains(try reply.error().code), "\(query)")
            }
        }
    }

    @Test("metrics count backfills by state as they move, without reading every connection, and a recount agrees")
    func stateCounts() async throws {
        try await ServerHarness.with { server in
            func gauge(_ state: BackfillState) async throws -> String? {
                let text = try await server.request("GET", "/metrics").text
                return text.split(separator: "\n").first { $0.hasPrefix("backfill_backfills{state=\"\(state.rawValue)\"}") }
                    .map { String($0.split(separator: " ").last ?? "") }
            }
            var ids: [String] = []
            for index in 0..<3 {
                let id = try await server.connect("graph", "count\(index)@acme.com").id
                _ = try await server.request("POST", "/v1/connections/\(id)/backfill", json: #"{"range": "30d"}"#)
                ids.append(id)
            }
            #expect(try await gauge(.queued) == "3.0")
            _ = try await server.request("POST", "/v1/connections/\(ids[0])/backfill/pause")
            _ = try await server.request("POST", "/v1/connections/\(ids[1])/backfill/cancel")
            _ = try await server.request("POST", "/v1/connections/\(ids[2])/backfill/reset", json: #"{"range": "12m"}"#)
            #expect(try await gauge(.queued) == "1.0")
            #expect(try await gauge(.paused) == "1.0")
            #expect(try await gauge(.cancelled) == "1.0")
            let counted = try await server.scheduler.stateCounts()
            #expect(try await server.scheduler.recountStates() == 3)
            #expect(try await server.scheduler.stateCounts() == counted)
        }
    }

    @Test("a flood of notifications while a worker holds the mailbox pushes no nudge; its release queues it once")
    func notificationFlood() async throws {
        try await ServerHarness.with { server in
            let id = try await server.connect("graph", "flood@acme.com").id
            let scheduler = server.scheduler
            _ = try await scheduler.redis.send(["DEL", scheduler.keys.nudges, scheduler.keys.nudged])
            #expect(try await scheduler.notify(id))
            #expect(try await server.nudged() == [id])
            _ = try await scheduler.redis.send(["LPOP", scheduler.keys.nudges])
            guard case .catchUpOnly(let lease, let dirty) = try await scheduler.claim(connectionId: id, owner: "worker-a") else {
                Issue.record("the dirty connection was not claimed for a catch-up")
                return
            }
            #expect(dirty == 1)
            for _ in 0..<450 { #expect(try await scheduler.notify(id)) }
            // Through the webhook too: 50 Graph notifications in 5 posts.
            try await server.directory.registerSubscription("sub-flood", for: id)
            try await server.directory.setSecret("flood-state", field: WebhookRoutes.graphClientStateField, for: id)
            let batch = Array(repeating: #"{"subscriptionId": "sub-flood", "clientState": "flood-state", "changeType": "created"}"#, count: 10)
            for _ in 0..<5 {
                let reply = try await server.request("POST", "/webhooks/graph", json: #"{"value": [\#(batch.joined(separator: ","))]}"#)
                #expect(reply.status == 202)
            }
            #expect(try await server.nudged().isEmpty)
            #expect(try await server.directory.dirtyCount(id) == 501)
            #expect(try await scheduler.clearDirty(lease, seen: dirty) != .stale)
            try await scheduler.release(lease, afterSlice: false)
            #expect(try await server.nudged() == [id])
            #expect(try await server.directory.dirtyCount(id) == 500)
            #expect(try await scheduler.notify("c_unknown") == false)
        }
    }

    @Test("a full disk is a store failure the backfill waits on, not the provider's and not a failed backfill")
    func fullDisk() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        options.provider = TestMailProvider(messageCount: 4_000, pageSize: 500)
        options.storeMaximumPages = 40  // 160 KiB: the first pages of ~100 KiB each fill it
        try await ServerHarness.with(options) { server in
            let id = try await server.connect("graph", "full@acme.com").id
            _ = try await server.request("POST", "/v1/connections/\(id)/backfill", json: #"{"range": "all"}"#)
            let view = try await server.wait(for: id, "the store to refuse a page") { $0.backfill?.error != nil }
            let backfill = try #require(view.backfill)
            #expect(backfill.error?.code == .storeUnavailable)
            #expect(backfill.error?.message.contains("disk is full") == true)
            #expect(backfill.error?.retryable == true)
            #expect(backfill.state == .queued)
            #expect(view.health != .error && view.error == nil)
        }
    }
}
