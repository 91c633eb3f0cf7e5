import BackfillCore
import BackfillRedis
@testable import BackfillScheduler
import BackfillStore
import BackfillTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("The lifecycle events' outbox and its relay")
struct EventRelayTests {
    let logger = Logger(label: "test.relay")

    /// A real SQLite store in a directory of its own.
    func sqliteStore() throws -> SQLiteMessageStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try SQLiteMessageStore(path: directory.appendingPathComponent("store.sqlite").path)
    }

    func feed(_ store: some MessageStore) async throws -> [BackfillEvent] {
        try await store.events(after: 0, limit: 1000).events.map(\.event)
    }

    @Test("each transition appends its event in the same step; two relays at once, and one again after a crash, record each once, in order")
    func transitionsAndRelay() async throws {
        let env = try TestEnvironment()
        let started = Date()
        let directory = env.scheduler.connectionDirectory(sealer: PlainSealer())
        let credentials = OAuthCredentials(accessToken: "a", refreshToken: "r", expiresAt: nil)
        let failing = try await directory.connect(
            provider: .graph, address: "relay-token-30@example.com", credentials: credentials, parentId: nil).connection.id
        try await env.inject(failing, "token:0")
        // Workers only: nothing relays, so the outbox keeps what the transitions appended.
        try await WorkerTests().withInstance(env) {
            _ = try await env.scheduler.startBackfill(connectionId: "relay-done-25", range: .last90Days)
            _ = try await env.scheduler.startBackfill(connectionId: failing, range: .last30Days)
            try await env.eventually("completed") { try await env.record("relay-done-25").state == .completed }
            try await env.eventually("failed") { try await env.record(failing).state == .failed }
        }
        _ = try await env.scheduler.startBackfill(connectionId: "relay-commands-10", range: .last30Days)
        for command in [BackfillCommand.pause, .pause, .resume, .cancel] {
            _ = try await env.scheduler.apply(command, connectionId: "relay-commands-10")
        }

        let entries = try await env.scheduler.outboxEntries(limit: 100)
        let events = entries.compactMap(\.event)
        #expect(events.count == entries.count)
        #expect(try await env.scheduler.outboxLength() == entries.count)
        func of(_ id: String) -> [BackfillEvent] { events.filter { $0.connectionId == id } }
        #expect(of("relay-done-25").map(\.kind) == [.started, .completed])
        #expect(of("relay-done-25").last?.pulled == 25)
        // Its preparation was recorded (and so `started`) before the first page's fetch failed.
        #expect(of(failing).map(\.kind) == [.started, .failed])
        #expect(of(failing).last?.errorCode == "token_expired")
        // The unchanged second pause appends nothing.
        #expect(of("relay-commands-10").map(\.kind) == [.paused, .resumed, .cancelled])
        for id in ["relay-done-25", failing, "relay-commands-10"] {
            let backfillId = try await env.record(id).id
            #expect(of(id).allSatisfy { $0.backfillId == backfillId })
        }
        #expect(events.allSatisfy { $0.at >= started.addingTimeInterval(-1) && $0.at <= Date().addingTimeInterval(1) })
        #expect(events.map(\.outboxId) == entries.map { Optional($0.id) })

        // Two instances relaying at once: both may take the same entries; the store keeps one of each.
        let store = try sqliteStore()
        let relays = (0..<2).map { _ in EventRelay(scheduler: env.scheduler, store: store, logger: logger) }
        async let first = relays[0].relayBatch()
        async let second = relays[1].relayBatch()
        _ = try await (first, second)
        #expect(try await feed(store) == events)
        #expect(try await env.scheduler.outboxLength() == 0)

        // A relay that recorded and died before deleting: the next relay records nothing twice.
        _ = try await env.scheduler.apply(.retry, connectionId: failing)
        let pending = try await env.scheduler.outboxEntries(limit: 100)
        #expect(pending.compactMap(\.event).map(\.kind) == [.retried])
        #expect(try await store.record(pending.compactMap(\.event)) == 1)
        #expect(try await relays[0].relayBatch() == 1)
        #expect(try await feed(store).map(\.kind) == events.map(\.kind) + [.retried])
        #expect(try await env.scheduler.outboxLength() == 0)
    }

    @Test("an entry this version cannot read holds up the ones after it for a while (a newer instance relays it), then is dropped")
    func unreadableEntry() async throws {
        let env = try TestEnvironment()
        let store = try sqliteStore()
        let relay = EventRelay(scheduler: env.scheduler, store: store, logger: logger)
        _ = try await env.scheduler.startBackfill(connectionId: "relay-future-10", range: .last30Days)
        _ = try await env.scheduler.apply(.pause, connectionId: "relay-future-10")
        _ = try await env.redis.send(["XADD", env.scheduler.keys.events, "*", "kind", "archived", "connectionId", "relay-future-10"])
        _ = try await env.scheduler.apply(.resume, connectionId: "relay-future-10")

        // The readable one before it goes in; the relay stops at the unreadable one, which is young.
        #expect(try await relay.relayBatch() == 1)
        await #expect(throws: EventRelay.UnreadableEvent.self) { try await relay.relayBatch() }
        #expect(try await env.scheduler.outboxLength() == 2)
        #expect(try await feed(store).map(\.kind) == [.paused])
        // Past the grace it is dropped, and what came after it follows.
        let later = Date().addingTimeInterval(Double(EventRelay.unreadableGrace.components.seconds) + 60)
        #expect(try await relay.relayBatch(now: later) == 1)
        #expect(try await relay.relayBatch(now: later) == 1)
        #expect(try await feed(store).map(\.kind) == [.paused, .resumed])
        #expect(try await env.scheduler.outboxLength() == 0)
    }

    @Test("while the store refuses events they wait in the outbox; once it takes them again they are recorded, in order")
    func waitsForTheStore() async throws {
        let env = try TestEnvironment()
        let store = RefusingStore(inner: try sqliteStore())
        let relay = EventRelay(scheduler: env.scheduler, store: store, logger: logger)
        let group = ServiceGroup(services: [relay], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            _ = try await env.scheduler.startBackfill(connectionId: "relay-refused-10", range: .last30Days)
            _ = try await env.scheduler.apply(.pause, connectionId: "relay-refused-10")
            _ = try await env.scheduler.apply(.resume, connectionId: "relay-refused-10")
            try await env.eventually("the relay tried") { store.refusals > 0 }
            #expect(try await env.scheduler.outboxLength() == 2)
            #expect(try await feed(store).isEmpty)

            store.refusing = false
            try await env.eventually("relayed") { try await env.scheduler.outboxLength() == 0 }
            #expect(try await feed(store).map(\.kind) == [.paused, .resumed])
            // A running relay records a new event within moments, woken by Redis (no polling period to wait out).
            _ = try await env.scheduler.apply(.cancel, connectionId: "relay-refused-10")
            try await env.eventually("cancel relayed", timeout: .seconds(2)) { try await feed(store).count == 3 }
            await group.triggerGracefulShutdown()
        }
    }
}

/// The real SQLite store behind a switch that makes it refuse events as a store that is down does.
final class RefusingStore: MessageStore, Sendable {
    let inner: SQLiteMessageStore
    private let state = Mutex((refusing: true, refusals: 0))

    init(inner: SQLiteMessageStore) {
        self.inner = inner
    }

    var refusing: Bool {
        get { state.withLock { $0.refusing } }
        set { state.withLock { $0.refusing = newValue } }
    }

    var refusals: Int { state.withLock { $0.refusals } }

    func record(_ events: [BackfillEvent]) async throws -> Int {
        let refused = state.withLock { state in
            if state.refusing { state.refusals += 1 }
            return state.refusing
        }
        if refused { throw StoreUnavailable("the store is down (test)") }
        return try await inner.record(events)
    }

    func insert(_ messages: [StoredMessage]) async throws -> Int { try await inner.insert(messages) }
    func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        try await inner.messages(connectionId: connectionId, limit: limit, after: cursor)
    }
    func count(connectionId: String) async throws -> Int { try await inner.count(connectionId: connectionId) }
    func changes(after: Int64, limit: Int) async throws -> ChangePage { try await inner.changes(after: after, limit: limit) }
    func events(after: Int64, limit: Int) async throws -> BackfillEventPage { try await inner.events(after: after, limit: limit) }
}
