import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Server-sent events")
struct EventStreamTests {
    @Test("the stream sends the connection at once, again after a change, and heartbeats")
    func firstEventAndChange() async throws {
        var options = ServerHarness.Options()
        options.token = "tok"
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let stream = try await EventStreamClient.open(port: server.port, path: "/v1/connections/\(connection.id)/events", token: "tok")
            defer { stream.close() }
            #expect(stream.status == 200)
            let first = try #require(await stream.next { $0.name == "connection" })
            let initial = try JSONDecoder.api.decode(ConnectionView.self, from: Data(first.data.utf8))
            #expect(initial.id == connection.id && initial.backfill == nil)

            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "30d"}"#)
            let changed = try #require(await stream.next { $0.name == "connection" })
            let view = try JSONDecoder.api.decode(ConnectionView.self, from: Data(changed.data.utf8))
            #expect(view.backfill?.state == .queued && view.health == .syncing)

            let beat = try #require(await stream.next { $0.name == "heartbeat" })
            #expect(beat.data == "{}")
        }
    }

    @Test("the stream needs the token and a known connection")
    func refusals() async throws {
        var options = ServerHarness.Options()
        options.token = "tok"
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let anonymous = try await EventStreamClient.open(port: server.port, path: "/v1/connections/\(connection.id)/events")
            defer { anonymous.close() }
            #expect(anonymous.status == 401)
            let unknown = try await EventStreamClient.open(port: server.port, path: "/v1/connections/c_unknown/events", token: "tok")
            defer { unknown.close() }
            #expect(unknown.status == 404)
        }
    }
}

@Suite("Server-sent events on shutdown")
struct EventStreamShutdownTests {
    @Test("an open stream ends when the server shuts down gracefully")
    func endsOnShutdown() async throws {
        var stream: EventStreamClient?
        try await ServerHarness.with { server in
            let connection = try await server.connect("graph", "a@acme.com")
            let client = try await EventStreamClient.open(port: server.port, path: "/v1/connections/\(connection.id)/events")
            #expect(await client.next { $0.name == "connection" } != nil)
            stream = client
        }
        let client = try #require(stream)
        defer { client.close() }
        // The harness waited for the service group to finish, so the stream has ended: whatever events were
        // already on their way are read, then the end comes at once (a live stream would make us wait 5 s).
        let started = ContinuousClock.now
        var buffered = 0
        while buffered < 50, await client.next(timeout: .seconds(5)) != nil { buffered += 1 }
        #expect(buffered < 50)
        #expect(ContinuousClock.now - started < .seconds(4))
    }
}
