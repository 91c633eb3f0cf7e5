import BackfillCore
@testable import BackfillScheduler
@testable import BackfillServer
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Subscription keeper")
struct SubscriptionKeeperTests {
    @Test("the tick renews only the channels that are due, and each mailbox's mode says push or poll")
    func renewsByDueTime() async throws {
        try await ServerHarness.with { server in
            let keys = server.scheduler.keys
            let live = try await server.connect("graph", "live@acme.com").id
            let broken = try await server.connect("graph", "broken@acme.com").id
            let fresh = try await server.connect("graph", "fresh@acme.com").id
            let gmail = try await server.connect("gmail", "realtime-only@gmail.com").id
            let gone = try await server.connect("graph", "gone@acme.com").id
            _ = try await server.request("DELETE", "/v1/connections/\(gone)")
            _ = try await server.scheduler.redis.send(["DEL", keys.nudges, keys.nudged, keys.realtimeDue])
            for id in [live, broken, fresh, gmail, gone] { _ = try await server.scheduler.redis.send(["ZADD", keys.renewals, "0", id]) }

            let realtime = ScriptedSubscriptions(failing: [broken], creating: [fresh])
            // No Gmail topic: a Gmail mailbox has no push channel at all.
            let keeper = SubscriptionKeeper(
                directory: server.directory, scheduler: server.scheduler, realtime: realtime, publicURL: server.baseURL,
                gmailTopic: "", logger: Logger(label: "test.keeper")
            )
            #expect(try await keeper.renewDue(1) == 4)
            #expect(Set(realtime.ensured.withLock { $0 }) == [live, broken, fresh])
            // A channel just made gets a catch-up; a mailbox without one is polled within a poll period.
            #expect(try await server.nudged() == [fresh])
            let modes = try await [live, broken, fresh, gmail].asyncMap { try await server.connection($0).realtime?.mode }
            #expect(modes == [.push, .poll, .push, .poll])
            #expect(try await server.connection(live).realtime?.channelExpiresAt != nil)
            #expect(try await server.connection(broken).realtime?.channelExpiresAt == nil)
            let polled = try await server.scheduler.redis.send(["ZRANGE", keys.realtimeDue, "0", "-1"]).array?.compactMap(\.string) ?? []
            #expect(Set(polled) == [broken, gmail])
            #expect(try await server.scheduler.redis.send(["ZSCORE", keys.renewals, gone]).isNull, "a disconnected mailbox leaves the renewals")

            // The next tick has nothing due: no provider call, no catch-up.
            realtime.ensured.withLock { $0.removeAll() }
            #expect(try await keeper.renewDue(2) == 0)
            #expect(realtime.ensured.withLock { $0 }.isEmpty)
            // A day before expiry (the scripted channels last three days) the live ones are due again, and by
            // then the failed one's retry and the topicless Gmail mailbox's daily look.
            #expect(try await keeper.renewDue(3, now: Date().addingTimeInterval(2 * 86_400 + 60)) == 4)
            #expect(Set(realtime.ensured.withLock { $0 }) == [live, broken, fresh])
        }
    }
}

extension SubscriptionKeeperTests {
    @Test("connecting a mailbox opens its push channel at once and queues one catch-up, which takes the real-time cursor")
    func opensOnConnect() async throws {
        try await ServerHarness.with { server in
            _ = try await server.scheduler.redis.send(["DEL", server.scheduler.keys.nudges, server.scheduler.keys.nudged])
            let realtime = ScriptedSubscriptions(failing: [], creating: [])
            let keeper = SubscriptionKeeper(
                directory: server.directory, scheduler: server.scheduler, realtime: realtime, publicURL: server.baseURL,
                gmailTopic: "", logger: Logger(label: "test.keeper")
            )
            let connector = MailboxConnector(directory: server.directory, scheduler: server.scheduler, keeper: keeper,
                                             logger: Logger(label: "test.connector"))
            let credentials = OAuthCredentials(accessToken: "at", refreshToken: "rt", expiresAt: Date().addingTimeInterval(3600))
            let (connection, reconnected) = try await connector.connect(provider: .graph, address: "new@acme.com", credentials: credentials)
            #expect(!reconnected)
            #expect(realtime.ensured.withLock { $0 } == [connection.id])
            #expect(try await server.connection(connection.id).realtime?.mode == .push)
            #expect(try await server.directory.dirtyCount(connection.id) == 1)
            #expect(try await server.nudged() == [connection.id])
            // A reconnect opens it again (a lapsed channel is made anew, a live one left as it is).
            _ = try await connector.connect(provider: .graph, address: "new@acme.com", credentials: credentials)
            #expect(realtime.ensured.withLock { $0 } == [connection.id, connection.id])
        }
    }
}

/// Subscriptions whose outcome the test picks per connection: failing, created once (then live), or live.
final class ScriptedSubscriptions: RealtimeSync, Sendable {
    let failing: Set<String>
    private let toCreate: Mutex<Set<String>>
    /// Every connection a subscription was asked for, in order.
    let ensured = Mutex<[String]>([])

    init(failing: Set<String>, creating: Set<String>) {
        self.failing = failing
        self.toCreate = Mutex(creating)
    }

    func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        CatchUpResult(inserted: 0, resyncNeeded: false)
    }

    func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws -> SubscriptionStatus {
        ensured.withLock { $0.append(connectionId) }
        if failing.contains(connectionId) { throw ProviderFailure.transient("subscription validation failed") }
        let created = toCreate.withLock { $0.remove(connectionId) != nil }
        return SubscriptionStatus(id: "sub-\(connectionId)", expiresAt: Date().addingTimeInterval(3 * 86_400), changed: created, created: created)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
