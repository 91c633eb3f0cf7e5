import BackfillCore
import BackfillScheduler
import Foundation

/// Reads connections with their backfill and parent from Redis and shapes them for the API.
struct ConnectionReader: Sendable {
    let directory: RedisConnectionDirectory
    let scheduler: Scheduler

    /// The connection, or nil when the id is unknown.
    func view(_ id: String, now: Date = Date()) async throws -> ConnectionView? {
        guard let connection = try await directory.connection(id) else { return nil }
        return try await view(of: connection, now: now)
    }

    func view(of connection: Connection, now: Date = Date()) async throws -> ConnectionView {
        let backfill = try await scheduler.backfill(connectionId: connection.id)
        let parentAddress: String? = if let parentId = connection.parentId {
            try await directory.connection(parentId)?.address
        } else {
            nil
        }
        return ConnectionView(connection, parentAddress: parentAddress, backfill: backfill, now: now)
    }

    func list(now: Date = Date()) async throws -> [ConnectionView] {
        let connections = try await directory.list()
        let addresses = Dictionary(connections.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first })
        var views: [ConnectionView] = []
        for connection in connections {
            let backfill = try await scheduler.backfill(connectionId: connection.id)
            views.append(ConnectionView(
                connection, parentAddress: connection.parentId.flatMap { addresses[$0] }, backfill: backfill, now: now
            ))
        }
        return views
    }

    /// The connection, or a 404 naming the id.
    func require(_ id: String) async throws -> Connection {
        guard let connection = try await directory.connection(id) else { throw APIError.connectionNotFound(id) }
        return connection
    }
}
