import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Backfill API")
struct BackfillAPITests {
    private func post(_ server: ServerHarness, _ id: String, _ action: String, json: String? = nil) async throws -> ServerHarness.Reply {
        try await server.request("POST", "/v1/connections/\(id)\(action)", json: json)
    }

    @Test("start pins a window and queues the backfill; a second start is 409 while it is unfinished; skip starts none")
    func startBackfill() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let started = try await post(server, connection.id, "/backfill", json: #"{"range": "90d"}"#)
            #expect(started.status == 200)
            let view = try started.decode(ConnectionView.self)
            let backfill = try #require(view.backfill)
            #expect(backfill.state == .queued && backfill.range == .last90Days && backfill.pulled == 0)
            #expect(abs(backfill.windowEnd.timeIntervalSince(backfill.windowStart) - 90 * 86_400) < 2)
            #expect(view.health == .syncing)
            #expect(try await server.nudged() == [connection.id])

            let again = try await post(server, connection.id, "/backfill", json: #"{"range": "30d"}"#)
            #expect(again.status == 409)
            #expect(try again.error().code == "backfill_unfinished")

            let other = try await server.connect("gmail", "b@gmail.com")
            let skipped = try await post(server, other.id, "/backfill", json: #"{"range": "skip"}"#)
            #expect(skipped.status == 200)
            #expect(try skipped.decode(ConnectionView.self).backfill == nil)
        }
    }

    @Test("start and reset refuse bad ranges and bodies, naming what was wrong")
    func rangeRefusals() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            for (action, json, code, mentions) in [
                ("/backfill", #"{"range": "7d"}"#, "unknown_range", "7d"),
                ("/backfill", #"{}"#, "missing_field", "range"),
                ("/backfill", #"{"range": 30}"#, "invalid_field", "range"),
                ("/backfill", "range=30d", "invalid_json", "JSON"),
                ("/backfill/reset", #"{"range": "forever"}"#, "unknown_range", "forever"),
                ("/backfill/reset", #"{"range": "skip"}"#, "unknown_range", "reset"),
            ] {
                let reply = try await post(server, connection.id, action, json: json)
                #expect(reply.status == 400, "\(action) \(json)")
                let error = try reply.error()
                #expect(error.code == code && error.message.contains(mentions), "\(error)")
            }
            #expect(try await server.connection(connection.id).backfill == nil)
        }
    }

    @Test("a pause while a page is in flight shows pausing until the worker lets go, then paused with the count settled")
    func pausing() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        options.provider = TestMailProvider(messageCount: 40, pageSize: 10, pageDelay: .seconds(1))
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "pause@acme.com")
            _ = try await post(server, connection.id, "/backfill", json: #"{"range": "90d"}"#)
            // The first page is committed; the worker is fetching the second and holds the lease.
            try await server.wait(for: connection.id, "the first page") { ($0.backfill?.pulled ?? 0) >= 10 }
            let paused = try await post(server, connection.id, "/backfill/pause").decode(ConnectionView.self)
            let backfill = try #require(paused.backfill)
            #expect(backfill.state == .paused && backfill.pausing, "\(backfill)")
            let settled = try await server.wait(for: connection.id, "the page in flight to land") { $0.backfill?.pausing == false }
            #expect(settled.backfill?.state == .paused)
            #expect(settled.backfill?.pulled == backfill.pulled + 10)
            // The list does not read leases.
            let listed = try await server.request("GET", "/v1/connections").decode(ConnectionList.self)
            #expect(listed.connections.first?.backfill?.pausing == false)
        }
    }

    @Test("pause, resume, cancel, retry and nudge move the backfill or answer 409 with the reason")
    func commands() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let id = connection.id
            let none = try await post(server, id, "/backfill/pause")
            #expect(none.status == 409)
            #expect(try none.error().code == "no_backfill")

            _ = try await post(server, id, "/backfill", json: #"{"range": "30d"}"#)
            #expect(try await post(server, id, "/backfill/pause").decode(ConnectionView.self).backfill?.state == .paused)
            #expect(try await post(server, id, "/backfill/pause").status == 200)  // idempotent
            #expect(try await server.connection(id).health == .healthy)
            #expect(try await post(server, id, "/backfill/resume").decode(ConnectionView.self).backfill?.state == .queued)
            let retryQueued = try await post(server, id, "/backfill/retry")
            #expect(retryQueued.status == 200)
            #expect(try await post(server, id, "/nudge").status == 200)
            #expect(try await post(server, id, "/backfill/cancel").decode(ConnectionView.self).backfill?.state == .cancelled)

            let resume = try await post(server, id, "/backfill/resume")
            #expect(resume.status == 409)
            #expect(try resume.error() == .init(code: "invalid_state", message: "cannot resume a backfill that is cancelled"))
            let retry = try await post(server, id, "/backfill/retry")
            #expect(retry.status == 409)
            #expect(try retry.error().message == "cannot retry a backfill that is cancelled")
        }
    }

    @Test("reset replaces the backfill with a new one over the new range")
    func reset() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let first = try await post(server, connection.id, "/backfill", json: #"{"range": "30d"}"#).decode(ConnectionView.self)
            let reply = try await post(server, connection.id, "/backfill/reset", json: #"{"range": "12m"}"#)
            #expect(reply.status == 200)
            let reset = try #require(try reply.decode(ConnectionView.self).backfill)
            #expect(reset.range == .last12Months && reset.state == .queued)
            #expect(reset.id != first.backfill?.id)
        }
    }

    @Test("a backfill run by the workers shows completed with the exact count, and its messages page through")
    func completesAndPages() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "big@acme.com")
            _ = try await post(server, connection.id, "/backfill", json: #"{"range": "all"}"#)
            let done = try await server.wait(for: connection.id, "completion") { $0.backfill?.state == .completed }
            let backfill = try #require(done.backfill)
            #expect(backfill.pulled == 25 && backfill.estimatedTotal == 25)
            #expect(backfill.completedAt != nil && backfill.startedAt != nil && backfill.error == nil)
            #expect(done.health == .healthy)

            var ids: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let query = "?limit=10" + (after.map { "&after=\($0)" } ?? "")
                let page = try await server.request("GET", "/v1/connections/\(connection.id)/messages\(query)")
                #expect(page.status == 200)
                let decoded = try page.decode(MessagePageView.self)
                ids += decoded.messages.map(\.providerMessageId)
                after = decoded.next
                pages += 1
            } while after != nil && pages < 10
            #expect(pages == 3)
            #expect(ids == (0..<25).map { "\(connection.id)-m\($0)" })

            let resume = try await post(server, connection.id, "/backfill/resume")
            #expect(resume.status == 409)
            #expect(try resume.error().message == "cannot resume a backfill that is completed")

            for query in ["?limit=0", "?limit=501", "?limit=ten", "?after=bm90LWEtY3Vyc29y"] {
                let reply = try await server.request("GET", "/v1/connections/\(connection.id)/messages\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(["invalid_limit", "invalid_cursor"].contains(try reply.error().code))
            }
        }
    }
}
