import BackfillCore
import PostgresNIO

extension PostgresMessageStore: AuditableMessageStore {
    /// Read from the (connection, received time) index.
    public func providerMessageIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>] {
        try await classifying { [client, logger] in
            var ids: [FolderKind: Set<String>] = [:]
            let query: PostgresQuery = """
                SELECT provider_message_id, folder FROM message
                WHERE connection_id = \(connectionId)
                  AND received_at >= \(StoreTime.milliseconds(window.start)) AND received_at < \(StoreTime.milliseconds(window.end))
                """
            for try await (id, folder) in try await client.query(query, logger: logger).decode((String, String).self) {
                guard let kind = FolderKind(rawValue: folder) else { continue }
                ids[kind, default: []].insert(id)
            }
            return ids
        }
    }
}
