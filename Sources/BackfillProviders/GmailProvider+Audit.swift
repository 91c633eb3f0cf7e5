import BackfillCore
import Foundation

extension GmailProvider: CompletenessAuditing {
    /// None: `resultSizeEstimate` is not a count and label totals have no dates; the listing is the count.
    public func auditCounts(connectionId: String, window: DateWindow) async throws -> [FolderKind: Int]? {
        nil
    }

    /// INBOX's ids, and SENT's that are not also in INBOX (the backfill stores those once, from INBOX).
    public func auditIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>] {
        let listed = try await listedIds(mailbox(connectionId), window: window)
        let inbox = Set(listed.filter { $0.label == "INBOX" }.map(\.id))
        let sent = Set(listed.filter { $0.label == "SENT" }.map(\.id)).subtracting(inbox)
        return [.inbox: inbox, .sent: sent]
    }
}
