import BackfillCore
@testable import BackfillPostgres
import Foundation
import Testing

@Suite("PostgreSQL store: configuration and an unreachable database")
struct PostgresStoreTests {
    @Test("the store URL gives host, port, user, database, sslmode and pool size; the description hides the password")
    func parsesURL() throws {
        let configuration = try PostgresStoreConfiguration(
            url: "postgres://app%40x:p%3Ass@db.example.com:6543/mail?sslmode=verify-full&sslrootcert=/etc/ca.pem", poolSize: 7)
        #expect(configuration.host == "db.example.com")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "app@x")
        #expect(configuration.password == "p:ss")
        #expect(configuration.database == "mail")
        #expect(configuration.sslMode == .verifyFull)
        #expect(configuration.sslRootCertificate == "/etc/ca.pem")
        #expect(configuration.poolSize == 7)
        #expect(configuration.description == "postgres://app@x:***@db.example.com:6543/mail?sslmode=verify-full")
        let defaults = try PostgresStoreConfiguration(url: "postgresql://backfill@localhost")
        #expect(defaults.port == 5432)
        #expect(defaults.database == "backfill")
        #expect(defaults.sslMode == .prefer)
        #expect(defaults.poolSize == 10)
    }

    @Test("a URL that cannot work is refused with what is wrong, never quoting the password", arguments: [
        ("mysql://u:secret@h/db", "the store URL must start with postgres:// (like postgres://user:password@host:5432/database)"),
        ("postgres://u:secret@/db", "the store URL names no host (like postgres://user:password@host:5432/database)"),
        ("postgres://h/db", "the store URL names no user (like postgres://user:password@host:5432/database)"),
        ("postgres://u:secret@h/db?sslmode=always", "the store URL's sslmode must be one of disable, prefer, require, verify-ca, verify-full"),
        ("postgres://u:secret@h/db?pool=3", "the store URL has an unknown parameter 'pool'; known: sslmode, sslrootcert"),
    ])
    func refusesBadURL(url: String, expected: String) {
        #expect(throws: StoreConfigurationError.self) { try PostgresStoreConfiguration(url: url) }
        do {
            _ = try PostgresStoreConfiguration(url: url)
        } catch {
            #expect(error.message == expected)
            #expect(!error.message.contains("secret"))
        }
    }

    @Test("a pool size outside 1...1000 is refused")
    func refusesBadPoolSize() {
        for size in [0, 1001] {
            #expect(throws: StoreConfigurationError.self) { try PostgresStoreConfiguration(url: "postgres://u@h/db", poolSize: size) }
        }
    }

    @Test("a database nobody answers at makes opening fail with StoreUnavailable, not the password, within the timeout")
    func unreachable() async throws {
        // A loopback port that was free a moment ago: connections are refused at once.
        var configuration = try PostgresStoreConfiguration(url: "postgres://backfill:hunter2-secret@127.0.0.1:1/backfill?sslmode=disable")
        configuration.operationTimeout = .seconds(2)
        configuration.connectTimeout = .seconds(1)
        let started = ContinuousClock.now
        let error = await #expect(throws: StoreUnavailable.self) {
            _ = try await PostgresMessageStore(configuration: configuration, logger: PostgresTestDatabase.logger)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        let text = try #require(error).message
        #expect(text.hasPrefix("PostgreSQL at 127.0.0.1:1"))
        #expect(!text.contains("hunter2"))
    }

    @Test("a store whose connections the server ends (as a restart does) works again on new ones")
    func connectionsEndedByServer() async throws {
        let database = try await PostgresTestDatabase.create()
        let store = try await database.open(operationTimeout: .seconds(3))
        #expect(try await store.insert(Messages.batch(1...3)) == 3)
        // Every connection of the store is ended by the server, as a restart would.
        try await PostgresTestDatabase.withClient(url: database.serverURL) { client in
            try await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(database.name)")
        }
        // The pool notices the closed connections and opens new ones: the store works again.
        var answered = false
        for _ in 0..<20 where !answered {
            do {
                answered = try await store.count(connectionId: "conn-a") == 3
            } catch is StoreUnavailable {
                await Task.yield()
            }
        }
        #expect(answered)
        #expect(try await store.insert(Messages.batch(3...4)) == 1)
        await store.shutdown()
        await database.drop()
    }

    @Test("when its server stops, the store's writes and reads fail with StoreUnavailable within the timeout, naming no password")
    func serverStops() async throws {
        // A server of the test's own (the shared one must stay up), started as ops/test starts the shared one.
        let server = try await PrivatePostgres.start()
        var stopped = false
        defer { if !stopped { server.stop() } }
        var configuration = try PostgresStoreConfiguration(url: server.url, poolSize: 2)
        configuration.operationTimeout = .seconds(3)
        let store = try await PostgresMessageStore(configuration: configuration, logger: PostgresTestDatabase.logger)
        #expect(try await store.insert(Messages.batch(1...5)) == 5)
        server.stop()
        stopped = true
        let started = ContinuousClock.now
        let insertError = await #expect(throws: StoreUnavailable.self) { try await store.insert(Messages.batch(6...7)) }
        let countError = await #expect(throws: StoreUnavailable.self) { try await store.count(connectionId: "conn-a") }
        await #expect(throws: StoreUnavailable.self) { try await store.ping(timeout: .seconds(1)) }
        #expect(ContinuousClock.now - started < .seconds(12))
        for error in [insertError, countError] {
            let text = try #require(error).message
            #expect(text.hasPrefix("PostgreSQL at 127.0.0.1:"))
            #expect(!text.contains(server.password))
        }
        await store.shutdown()
    }
}

@Suite("A postgres-nio call that ignores cancellation")
struct AbandonableCallTests {
    /// Opens once released; its waiters do not answer cancellation (as the rare postgres-nio call did not).
    final class Latch: @unchecked Sendable {
        private let lock = NSLock()
        private var isOpen = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func wait() async {
            await withCheckedContinuation { waiter in
                lock.lock()
                if isOpen {
                    lock.unlock()
                    return waiter.resume()
                }
                waiters.append(waiter)
                lock.unlock()
            }
        }

        func open() {
            lock.lock()
            isOpen = true
            let waiting = waiters
            waiters = []
            lock.unlock()
            for waiter in waiting { waiter.resume() }
        }
    }

    @Test("is abandoned: its cancelled caller is answered at once, and an uncancelled one gets its result")
    func abandoned() async throws {
        let latch = Latch()
        let caller = Task { try await AbandonableCall.run { await latch.wait(); return 1 } }
        caller.cancel()
        let started = ContinuousClock.now
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(1))
        latch.open()
        #expect(try await AbandonableCall.run { await latch.wait(); return 2 } == 2)
    }
}
