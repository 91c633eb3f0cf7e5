import BackfillCore
@testable import BackfillPostgres
import BackfillStore
import Foundation
import Logging
import PostgresNIO
import Testing

/// What the contract tests need of a store beyond `MessageStore`: every id stored for a connection.
protocol ContractStore: MessageStore {
    func providerMessageIds(connectionId: String) async throws -> Set<String>
}

extension SQLiteMessageStore: ContractStore {}
extension PostgresMessageStore: ContractStore {}

/// The stores the contract tests run against: the same test bodies, one store each.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The environment variable naming the test PostgreSQL server (ops/test starts one).
    static let postgresVariable = "BACKFILL_TEST_POSTGRES_URL"

    /// Runs `body` with a new, empty store of this kind (a file in a temp directory, or a database of its own
    /// on the test server), then removes it. `reopen` opens another store on the same data.
    func withStore(
        _ body: (_ store: any ContractStore, _ reopen: () async throws -> any ContractStore) async throws -> Void
    ) async throws {
        switch self {
        case .sqlite:
            let fixture = try StoreFixture()
            try await body(fixture.store) { try SQLiteMessageStore(path: fixture.path) }
        case .postgres:
            let database = try await PostgresTestDatabase.create()
            var opened: [PostgresMessageStore] = []
            do {
                let store = try await database.open()
                opened.append(store)
                try await body(store) {
                    let again = try await database.open()
                    opened.append(again)
                    return again
                }
            } catch {
                for store in opened { await store.shutdown() }
                await database.drop()
                throw error
            }
            for store in opened { await store.shutdown() }
            await database.drop()
        }
    }
}
