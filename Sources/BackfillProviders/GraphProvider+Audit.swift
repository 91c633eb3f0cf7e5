import BackfillCore
import Foundation

extension GraphProvider: CompletenessAuditing {
    /// One `$count` per folder (the folders the backfill walked), side by side.
    public func auditCounts(connectionId: String, window: DateWindow) async throws -> [FolderKind: Int]? {
        let mailbox = try await mailbox(connectionId)
        let folders = try await auditFolders(mailbox)
        var totals: [FolderKind: Int] = [:]
        for (folder, count) in zip(folders, try await counts(mailbox, folders: folders, window: window)) {
            totals[folder.kind, default: 0] += count
        }
        return totals
    }

    /// Every folder's ids in the window, in pages of 1,000 (ids and the draft flag only), drafts left out.
    public func auditIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>] {
        let mailbox = try await mailbox(connectionId)
        let folders = try await auditFolders(mailbox)
        let lists = try await concurrently(folders) { folder -> [String] in
            var ids: [String] = []
            var url: String? = mailbox.messageIds(in: folder.id, window: window)
            while let next = url {
                let page: GraphPage<GraphMessage> = try await get(mailbox, url: next, route: "graph GET mailFolders/messages (ids)")
                ids += page.value.filter(\.isStorable).map(\.id)
                url = page.nextLink
            }
            return ids
        }
        var ids: [FolderKind: Set<String>] = [:]
        for (folder, list) in zip(folders, lists) { ids[folder.kind, default: []].formUnion(list) }
        return ids
    }

    /// The folders the backfill walked (kept in the sync state), else walked now.
    private func auditFolders(_ mailbox: GraphMailbox) async throws -> [GraphFolder] {
        if let stored = try await storedFolders(mailbox.connectionId), !stored.isEmpty { return stored }
        return try await resolveFolders(mailbox)
    }
}
