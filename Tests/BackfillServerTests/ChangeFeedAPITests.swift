import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("GET /v1/changes: the host's change feed")
struct ChangeFeedAPITests {
    @Test("two backfilled mailboxes come out of the feed once each, in sequence order, with origin and backfill id")
    func followsEveryMessage() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        options.token = String(repeating: "t", count: 32)
        try await ServerHarness.with(options) { server in
            let first = try await server.connect("gmail", "first@gmail.com")
            let second = try await server.connect("graph", "second@example.com")
            for connection in [first, second] {
                let start = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "90d"}"#)
                #expect(start.status == 200)
            }
            var backfillIds: [String: String] = [:]
            for connection in [first, second] {
                try await server.wait(for: connection.id, "completion") { $0.backfill?.state == .completed }
                backfillIds[connection.id] = try await server.connection(connection.id).backfill?.id
            }

            // Followed 7 at a time from the start, as a host would.
            var after: Int64 = 0
            var changes: [ChangePageView.Change] = []
            for _ in 0..<20 {
                let reply = try await server.request("GET", "/v1/changes?after=\(after)&limit=7")
                #expect(reply.status == 200)
                let page = try reply.decode(ChangePageView.self)
                if page.changes.isEmpty {
                    #expect(page.next == after)
                    break
                }
                changes += page.changes
                after = page.next
            }
            #expect(changes.map(\.seq) == Array(1...50))
            #expect(changes.filter { $0.message.connectionId == first.id }.count == 25)
            #expect(changes.filter { $0.message.connectionId == second.id }.count == 25)
            #expect(changes.allSatisfy { $0.message.source == .backfill })
            #expect(changes.allSatisfy { $0.message.backfillId != nil && $0.message.backfillId == backfillIds[$0.message.connectionId] })
            #expect(Set(changes.map { "\($0.message.connectionId)/\($0.message.providerMessageId)" }).count == 50)

            // The route sits behind the API token like every /v1 route.
            let anonymous = try await server.request("GET", "/v1/changes", token: "")
            #expect(anonymous.status == 401)
        }
    }

    @Test("bad paging input is a 400 that says what was wrong", arguments: [
        ("after=abc", "invalid_cursor", "'after' must be a sequence number (a whole number from 0), like a previous page's next"),
        ("after=-1", "invalid_cursor", "'after' must be a sequence number (a whole number from 0), like a previous page's next"),
        ("after=", "invalid_cursor", "'after' must be a sequence number (a whole number from 0), like a previous page's next"),
        ("after=1234567890123456789", "invalid_cursor", "'after' must be a sequence number (a whole number from 0), like a previous page's next"),
        ("limit=0", "invalid_limit", "'limit' must be a whole number from 1 to 1000"),
        ("limit=100000", "invalid_limit", "'limit' must be a whole number from 1 to 1000"),
        ("limit=ten", "invalid_limit", "'limit' must be a whole number from 1 to 1000"),
    ])
    func badInput(query: String, code: String, message: String) async throws {
        try await ServerHarness.with { server in
            let reply = try await server.request("GET", "/v1/changes?\(query)")
            #expect(reply.status == 400)
            let error = try reply.error()
            #expect(error.code == code)
            #expect(error.message == message)
        }
    }

    @Test("an empty store answers an empty page that keeps the cursor")
    func emptyStore() async throws {
        try await ServerHarness.with { server in
            let reply = try await server.request("GET", "/v1/changes?after=12")
            #expect(reply.status == 200)
            #expect(reply.text == #"{"changes":[],"next":12}"#)
        }
    }
}

@Suite("GET /v1/backfill-events: the lifecycle feed")
struct BackfillEventsAPITests {
    @Test("pause, resume and cancel are recorded in order, with the backfill's id; an unchanged or refused command records nothing")
    func lifecycle() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("gmail", "events@gmail.com")
            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "90d"}"#).status == 200)
            let firstId = try #require(try await server.connection(connection.id).backfill?.id)
            // The second pause changes nothing (200, unchanged) and records nothing; a refused command neither.
            for command in ["pause", "pause", "resume", "cancel"] {
                #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill/\(command)").status == 200)
            }
            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill/cancel").status == 409)
            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill/reset", json: #"{"range": "30d"}"#).status == 200)
            let secondId = try #require(try await server.connection(connection.id).backfill?.id)
            #expect(secondId != firstId)

            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill/pause").status == 200)

            // Without workers no backfill starts (`started` is the worker's, with its preparation).
            _ = try await server.lifecycleEvents(count: 4)
            let reply = try await server.request("GET", "/v1/backfill-events?after=0&limit=2")
            #expect(reply.status == 200)
            let first = try reply.decode(BackfillEventPageView.self)
            let rest = try await server.request("GET", "/v1/backfill-events?after=\(first.next)").decode(BackfillEventPageView.self)
            let events = first.events + rest.events
            #expect(events.map(\.seq) == [1, 2, 3, 4])
            #expect(events.map(\.kind) == [.paused, .resumed, .cancelled, .paused])
            #expect(events.map(\.backfillId) == [firstId, firstId, firstId, secondId])
            #expect(events.allSatisfy { $0.connectionId == connection.id && $0.pulled == nil && $0.errorCode == nil })
            #expect(rest.next == 4)
        }
    }

    @Test("a backfill the workers finish records started (with its preparation) then completed with the messages it pulled")
    func completion() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", "done@gmail.com")
            #expect(try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "all"}"#).status == 200)
            try await server.wait(for: connection.id, "completion") { $0.backfill?.state == .completed }
            let backfillId = try #require(try await server.connection(connection.id).backfill?.id)
            let page = try await server.lifecycleEvents(count: 2)
            #expect(page.events.map(\.kind) == [.started, .completed])
            #expect(page.events.map(\.backfillId) == [backfillId, backfillId])
            #expect(page.events.last?.pulled == 25)
        }
    }

    @Test("bad paging input is a 400 that says what was wrong")
    func badInput() async throws {
        try await ServerHarness.with { server in
            let after = try await server.request("GET", "/v1/backfill-events?after=abc")
            #expect(after.status == 400)
            #expect(try after.error().code == "invalid_cursor")
            let limit = try await server.request("GET", "/v1/backfill-events?limit=100000")
            #expect(limit.status == 400)
            #expect(try limit.error().message == "'limit' must be a whole number from 1 to 1000")
        }
    }
}
