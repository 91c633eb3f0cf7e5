import BackfillStore
import Dispatch
import GRDB
import Testing

@Suite("Reads during a write (WAL)")
struct ConcurrentReadTests {
    @Test("while a write transaction holds the writer, reads finish and see the last committed state")
    func readsDuringWrite() async throws {
        let fixture = try StoreFixture()
        #expect(try await fixture.store.insert(Messages.batch(1...10)) == 10)

        // A second connection on the file takes the write lock and deletes everything, uncommitted, then
        // holds the transaction until released. It blocks only GRDB's own queue.
        let writer = try DatabaseQueue(path: fixture.path)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let release = DispatchSemaphore(value: 0)
        async let held: Void = writer.write { db in
            defer { startedContinuation.finish() }
            try db.execute(sql: "DELETE FROM message")
            startedContinuation.yield()
            // The timeout only keeps a broken test from hanging; the test releases it well before.
            _ = release.wait(timeout: .now() + 30)
        }
        var startedEvents = started.makeAsyncIterator()
        try #require(await startedEvents.next() != nil)

        #expect(try await fixture.store.count(connectionId: "conn-a") == 10)
        let page = try await fixture.store.messages(connectionId: "conn-a", limit: 100, after: nil)
        #expect(page.messages.map(\.providerMessageId) == (1...10).reversed().map { "m\($0)" })
        #expect(try await fixture.store.providerMessageIds(connectionId: "conn-a").count == 10)

        release.signal()
        try await held
        #expect(try await fixture.store.count(connectionId: "conn-a") == 0)
    }
}
