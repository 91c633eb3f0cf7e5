import BackfillCore
import BackfillScheduler
import Foundation
import Testing

@Suite("Refresh-token rotation across instances")
struct TokenRotationTests {
    @Test("two instances refreshing one Microsoft token at once both go on: the later refusal finds the rotated token")
    func simultaneousRefresh() async throws {
        try await EndToEnd.run { env in
            let id = try await env.connect(.graph, EndToEnd.graphUser)
            // The simulator answers each request after 100 ms, so both refreshes are on the wire together, and
            // it refuses a rotated refresh token at once (Microsoft may accept it a while; no client should count on it).
            try await env.setKnobs(["latencyMs": 100])
            var credentials = try #require(try await env.directory.credentials(for: id))
            credentials.expiresAt = Date()  // due for a refresh on the next use
            try await env.directory.updateCredentials(credentials, for: id)
            let other = env.otherInstance()
            async let first = env.router.catchUp(connectionId: id, into: env.store)
            async let second = other.catchUp(connectionId: id, into: env.store)
            _ = try await (first, second)
            let stored = try #require(try await env.directory.credentials(for: id))
            #expect(stored.refreshToken != credentials.refreshToken, "the rotated refresh token was kept")
            #expect(try await env.directory.connection(id)?.health == .healthy)
        }
    }
}
