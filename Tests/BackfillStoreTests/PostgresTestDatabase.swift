import BackfillCore
@testable import BackfillPostgres
import Foundation
import Logging
import PostgresNIO

/// A database of its own on the test server for one test, made from `BACKFILL_TEST_POSTGRES_URL`.
struct PostgresTestDatabase: Sendable {
    struct MissingServer: Error, CustomStringConvertible {
        var description: String {
            """
            \(StoreKind.postgresVariable) is not set: the PostgreSQL half of the store contract tests needs a server. \
            Run the tests through ops/test, or start one with `ops/postgres-private DIR` (it prints PORT PID URL) \
            and export its URL as \(StoreKind.postgresVariable).
            """
        }
    }

    static let logger = Logger(label: "BackfillStoreTests.postgres")

    let serverURL: String
    let name: String

    var url: String {
        serverURL.replacingOccurrences(of: "/postgres?", with: "/\(name)?")
    }

    static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment[StoreKind.postgresVariable], !url.isEmpty else {
            throw MissingServer()
        }
        return url
    }

    static func create() async throws -> PostgresTestDatabase {
        let serverURL = try serverURL()
        let database = PostgresTestDatabase(serverURL: serverURL, name: "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))
        try await database.admin("CREATE DATABASE \(database.name)")
        return database
    }

    func open(operationTimeout: Duration = .seconds(20)) async throws -> PostgresMessageStore {
        var configuration = try PostgresStoreConfiguration(url: url, poolSize: 4)
        configuration.operationTimeout = operationTimeout
        return try await PostgresMessageStore(configuration: configuration, logger: Self.logger)
    }

    func drop() async {
        try? await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs one statement on the server's own `postgres` database.
    private func admin(_ sql: String) async throws {
        try await Self.withClient(url: serverURL) { client in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger)
        }
    }

    /// A client of its own on `url`, run for the length of `body`.
    @discardableResult
    static func withClient<T: Sendable>(url: String, _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try PostgresStoreConfiguration(url: url).clientConfiguration(), backgroundLogger: logger)
        let (started, markStarted) = AsyncStream<Void>.makeStream()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                markStarted.finish()
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            // Queries sent before the run loop is up make postgres-nio warn: let it start first.
            for await _ in started {}
            return try await body(client)
        }
    }
}
