import BackfillCore
import BackfillScheduler
@testable import BackfillServer
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Subscription keeper")
struct SubscriptionKeeperTests {
    @Test("the tick catches up mailboxes with no push channel and no backfill to run, and those whose channel it just made")
    func pollsWithoutPushChannel() async throws {
        try await ServerHarness.with { server in
            func connect(_ provider: String, _ address: String, backfill: BackfillState?) async throws -> String {
                let id = try await server.connect(provider, address).id
                if let backfill {
                    _ = try await server.scheduler.startBackfill(connectionId: id, range: .last30Days)
                    _ = try await server.scheduler.redis.send(["HSET", server.scheduler.keys.backfill(id), "state", backfill.rawValue])
                }
                return id
            }
            let broken = try await connect("graph", "broken@acme.com", backfill: .completed)
            let live = try await connect("graph", "live@acme.com", backfill: .completed)
            let backfilling = try await connect("graph", "backfilling@acme.com", backfill: .running)
            let fresh = try await connect("graph", "fresh@acme.com", backfill: .running)
            let gmail = try await connect("gmail", "realtime-only@gmail.com", backfill: nil)
            let stillDirty = try await connect("graph", "dirty@acme.com", backfill: .completed)
            #expect(try await server.directory.markDirty(stillDirty))  // left by a catch-up that failed
            _ = try await server.scheduler.redis.send(["DEL", server.scheduler.keys.nudges, server.scheduler.keys.nudged])

            let realtime = ScriptedSubscriptions(failing: [broken, backfilling], creating: [fresh])
            // No Gmail topic: a Gmail mailbox has no push channel at all.
            let keeper = SubscriptionKeeper(
                directory: server.directory, scheduler: server.scheduler, realtime: realtime, publicURL: server.baseURL,
                gmailTopic: "", logger: Logger(label: "test.keeper")
            )
            try await keeper.renewAll(1)

            let dirty = try await [broken, live, backfilling, fresh, gmail, stillDirty].asyncMap { try await server.directory.dirtyCount($0) }
            #expect(dirty == [1, 0, 0, 1, 1, 1])
            #expect(Set(try await server.nudged()) == [broken, fresh, gmail, stillDirty])
            #expect(try await server.nudged().count == 4)

            // The next tick: the channel made last time is live now, so only what has none is polled again.
            _ = try await server.scheduler.redis.send(["DEL", server.scheduler.keys.nudges, server.scheduler.keys.nudged])
            for id in [broken, fresh, gmail, stillDirty] {
                _ = try await server.scheduler.redis.send(["HDEL", server.scheduler.keys.connection(id), "dirty"])
            }
            try await keeper.renewAll(2)
            #expect(Set(try await server.nudged()) == [broken, gmail])
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
        return SubscriptionStatus(id: "sub-\(connectionId)", expiresAt: Date().addingTimeInterval(3600), changed: created, created: created)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
