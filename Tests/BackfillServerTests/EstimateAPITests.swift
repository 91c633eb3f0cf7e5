import BackfillCore
@testable import BackfillServer
import Foundation
import Testing

@Suite("Estimates API")
struct EstimateAPITests {
    @Test("estimates per range from the simulator over HTTP, every key present, kept a minute; unknown connection 404")
    func estimates() async throws {
        try await AppOnlyFixture.with { fixture in
            let created = try await fixture.connectApp(AppOnlyFixture.owner)
            let id = try created.decode(ConnectionView.self).id
            let reply = try await fixture.server.request("GET", "/v1/connections/\(id)/estimates")
            #expect(reply.status == 200, "\(reply.text)")
            let object = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
            #expect(Set(object.keys) == ["connectionId", "computedAt", "recommended", "ranges", "error"])
            #expect(object["error"] is NSNull && object["recommended"] as? String == "90d")
            let view = try reply.decode(EstimatesView.self)
            #expect(view.ranges.map(\.range) == RangeEstimate.ranges)
            // Of the scenario's 160 messages, those in Inbox (with its folders) and Sent; wider ranges hold more.
            let counts = view.ranges.map(\.messages)
            #expect(counts.allSatisfy { $0 > 0 } && counts == counts.sorted() && (counts.last ?? 0) <= 160, "\(counts)")
            #expect(view.ranges.allSatisfy { $0.seconds > 0 })

            let again = try await fixture.server.request("GET", "/v1/connections/\(id)/estimates").decode(EstimatesView.self)
            #expect(again == view, "not the cached answer")

            let unknown = try await fixture.server.request("GET", "/v1/connections/nope/estimates")
            #expect(unknown.status == 404)
            #expect(try unknown.error().code == "not_found")
        }
    }

    @Test("a provider that gives no estimates answers 200 with no ranges and the reason, never an error status")
    func unavailable() async throws {
        try await ServerHarness.with { server in
            let connection = try await server.connect("gmail", "b@gmail.com")
            let reply = try await server.request("GET", "/v1/connections/\(connection.id)/estimates")
            #expect(reply.status == 200)
            let view = try reply.decode(EstimatesView.self)
            #expect(view.ranges.isEmpty && view.error?.code == .invalidResponse)
        }
    }
}
