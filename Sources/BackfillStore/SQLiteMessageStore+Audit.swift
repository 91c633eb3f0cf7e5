import BackfillCore
import Foundation
import GRDB

extension SQLiteMessageStore: AuditableMessageStore {
    /// Read from the (connection, received time) index.
    public func providerMessageIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>] {
        try await pool.read { db in
            var ids: [FolderKind: Set<String>] = [:]
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: """
                    SELECT provider_message_id, folder FROM message
                    WHERE connection_id = ? AND received_at >= ? AND received_at < ?
                    """),
                arguments: [connectionId, StoreTime.milliseconds(window.start), StoreTime.milliseconds(window.end)])
            while let row = try rows.next() {
                guard let folder = FolderKind(rawValue: row[1]) else { continue }
                ids[folder, default: []].insert(row[0])
            }
            return ids
        }
    }
}
