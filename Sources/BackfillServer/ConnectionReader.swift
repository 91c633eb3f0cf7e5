import BackfillCore
import BackfillScheduler
import Foundation

/// Reads connections with their backfill and parent from Redis and shapes them for the API.
struct ConnectionReader: Sendable {
    let directory: RedisConnectionDirectory
    let scheduler: Scheduler

    /// The connection, or nil when the id is unknown.
    func view(_ id: String, now: Date = Date()) async throws -> ConnectionView? {
        guard let entry = try await directory.entry(id) else { return nil }
        let connection = entry.connection
        let parentAddress: String? = if let parentId = connection.parentId {
            try await directory.connection(parentId)?.address
        } else {
            nil
        }
        // After a pause the pages in flight still land until the worker lets go ("Pausing…"): one more read, for
        // paused backfills only; the list does not make it.
        let leaseHeld = entry.backfill?.state == .paused ? try await scheduler.isLeaseHeld(connectionId: connection.id, now: now) : false
        return ConnectionView(connection, parentAddress: parentAddress, backfill: entry.backfill, leaseHeld: leaseHeld, now: now)
    }

    /// The connection, or a 404 naming the id.
    func requireView(_ id: String) async throws -> ConnectionView {
        guard let view = try await view(id) else { throw APIError.connectionNotFound(id) }
        return view
    }

    /// One page of connections in the order they were connected; `after` is the previous page's `next`.
    func page(after: String?, limit: Int, now: Date = Date()) async throws -> ConnectionList {
        let page = try await directory.page(after: after, limit: limit)
        return ConnectionList(connections: page.entries.map { entry in
            ConnectionView(entry.connection, parentAddress: entry.connection.parentId.flatMap { page.parentAddresses[$0] },
                           backfill: entry.backfill, now: now)
        }, next: page.next)
    }

    /// The connection, or a 404 naming the id.
    func require(_ id: String) async throws -> Connection {
        guard let connection = try await directory.connection(id) else { throw APIError.connectionNotFound(id) }
        return connection
    }
}
