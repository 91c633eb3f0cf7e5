import BackfillCore
import Foundation
import Testing

/// The store-wide change feed (`changes(after:limit:)`) against both stores.
@Suite("Change feed contract")
struct ChangeFeedTests {
    @Test("the feed lists every new message of every connection once, in insert order, resumable by its cursor",
          arguments: StoreKind.allCases)
    func orderAndCursor(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            var realtime = Messages.make("rt-1", connection: "conn-b", minute: 500)
            realtime.source = .realtime
            let first = Messages.batch(1...3).map { message in
                var message = message
                message.backfillId = "bf-a"
                return message
            }
            #expect(try await store.insert(first) == 3)
            #expect(try await store.insert([realtime]) == 1)
            // Repeats get no new number; only m4 is new.
            #expect(try await store.insert(Messages.batch(2...4)) == 1)

            let all = try await store.changes(after: 0, limit: 100)
            #expect(all.changes.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(all.changes.map(\.message.providerMessageId) == ["m1", "m2", "m3", "rt-1", "m4"])
            #expect(all.changes.map(\.message.connectionId) == ["conn-a", "conn-a", "conn-a", "conn-b", "conn-a"])
            #expect(all.changes.map(\.message.source) == [.backfill, .backfill, .backfill, .realtime, .backfill])
            #expect(all.changes.map(\.message.backfillId) == ["bf-a", "bf-a", "bf-a", nil, nil])
            #expect(all.next == 5)

            // Page by page from any point, then an empty page that keeps the cursor.
            let head = try await store.changes(after: 0, limit: 2)
            #expect(head.changes.map(\.seq) == [1, 2])
            #expect(head.next == 2)
            let rest = try await store.changes(after: head.next, limit: 2)
            #expect(rest.changes.map(\.message.providerMessageId) == ["m3", "rt-1"])
            let tail = try await store.changes(after: rest.next, limit: 2)
            #expect(tail.changes.map(\.seq) == [5])
            let empty = try await store.changes(after: tail.next, limit: 2)
            #expect(empty.changes.isEmpty)
            #expect(empty.next == 5)

            // Mail stored later shows up after the cursor the follower holds.
            #expect(try await store.insert(Messages.batch(10...11, connection: "conn-c")) == 2)
            let later = try await store.changes(after: empty.next, limit: 10)
            #expect(later.changes.map(\.seq) == [6, 7])
            #expect(later.changes.map(\.message.providerMessageId) == ["m10", "m11"])
        }
    }

    @Test("a follower reading while 8 writers insert at once sees every message exactly once, numbers rising",
          arguments: StoreKind.allCases)
    func followerDuringConcurrentInserts(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            let writers = 8, batches = 15, batchSize = 10
            let total = writers * batches * batchSize
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for batch in 0..<batches {
                            let first = batch * batchSize + 1
                            let messages = Messages.batch(first...(first + batchSize - 1), connection: "conn-\(writer)")
                            _ = try await store.insert(messages)
                        }
                    }
                }
                // The follower pages from its cursor as a host would. A number it passed before its message
                // committed could never be read again, so it would end short of `total`; the deadline only
                // keeps such a broken store from hanging the test.
                let deadline = ContinuousClock.now + .seconds(60)
                var after: Int64 = 0
                var seen: [String] = []
                var seqs: [Int64] = []
                while seen.count < total && ContinuousClock.now < deadline {
                    let page = try await store.changes(after: after, limit: 37)
                    seqs += page.changes.map(\.seq)
                    seen += page.changes.map { "\($0.message.connectionId)/\($0.message.providerMessageId)" }
                    after = page.next
                    if page.changes.isEmpty { await Task.yield() }
                }
                try await group.waitForAll()
                #expect(seen.count == total)
                #expect(Set(seen).count == total)
                #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
                // After the writers are done the feed holds no message the follower did not see.
                #expect(try await store.changes(after: after, limit: 10).changes.isEmpty)
            }
        }
    }

    @Test("lifecycle events come back in the order recorded, every field exact, paged by their own sequence",
          arguments: StoreKind.allCases)
    func lifecycleEvents(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, reopen) async throws in
            let at = Date(timeIntervalSince1970: 1_700_000_000.123)
            let events = [
                BackfillEvent(kind: .started, connectionId: "conn-a", backfillId: "bf-1", at: at),
                BackfillEvent(kind: .paused, connectionId: "conn-a", backfillId: "bf-1", at: at.addingTimeInterval(1)),
                BackfillEvent(kind: .started, connectionId: "conn-b", backfillId: "bf-2", at: at.addingTimeInterval(2)),
                BackfillEvent(kind: .failed, connectionId: "conn-b", backfillId: "bf-2", at: at.addingTimeInterval(3),
                              errorCode: "token_expired"),
                BackfillEvent(kind: .completed, connectionId: "conn-a", backfillId: "bf-1", at: at.addingTimeInterval(4),
                              pulled: 8500),
            ]
            #expect(try await store.record(Array(events[..<2])) == 2)
            #expect(try await store.record(Array(events[2...])) == 3)
            // Messages have a sequence of their own.
            #expect(try await store.insert(Messages.batch(1...2)) == 2)

            let all = try await store.events(after: 0, limit: 100)
            #expect(all.events.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(all.events.map(\.event) == events)
            #expect(all.next == 5)
            let second = try await store.events(after: 2, limit: 2)
            #expect(second.events.map(\.event.kind) == [.started, .failed])
            #expect(second.next == 4)
            let empty = try await reopen().events(after: 5, limit: 10)
            #expect(empty.events.isEmpty)
            #expect(empty.next == 5)
            #expect(try await store.changes(after: 0, limit: 10).changes.map(\.seq) == [1, 2])

            let error = await #expect(throws: MessageStoreError.self) { try await store.events(after: 0, limit: 0) }
            #expect(error?.code == .invalidPageLimit)
        }
    }

    @Test("an event relayed again under its outbox id is recorded once and takes no number; events without one never collide",
          arguments: StoreKind.allCases)
    func outboxIdsRecordedOnce(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, reopen) async throws in
            let at = Date(timeIntervalSince1970: 1_700_000_000)
            func event(_ kind: BackfillEvent.Kind, _ outboxId: String?) -> BackfillEvent {
                BackfillEvent(kind: kind, connectionId: "conn-a", backfillId: "bf-1", at: at, outboxId: outboxId)
            }
            #expect(try await store.record([event(.started, "1-0"), event(.paused, "2-0")]) == 2)
            // A second relay of the same entries, and the next one: only the new one goes in, after the others.
            #expect(try await store.record([event(.started, "1-0"), event(.paused, "2-0"), event(.resumed, "3-0")]) == 1)
            #expect(try await reopen().record([event(.started, "1-0")]) == 0)
            #expect(try await store.record([event(.cancelled, nil), event(.cancelled, nil)]) == 2)

            let all = try await store.events(after: 0, limit: 100)
            #expect(all.events.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(all.events.map(\.event.kind) == [.started, .paused, .resumed, .cancelled, .cancelled])
            #expect(all.events.map(\.event.outboxId) == ["1-0", "2-0", "3-0", nil, nil])
        }
    }
}
