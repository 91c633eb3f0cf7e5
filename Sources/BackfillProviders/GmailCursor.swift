import BackfillCore
import Foundation

/// Where a Gmail backfill stands: the label being listed (INBOX first, then SENT), the list's page token,
/// and within that list page the last id already stored (a page cut short by its time budget).
struct GmailCursor: Codable, Sendable, Equatable {
    static let labels = ["INBOX", "SENT"]

    var labelIndex: Int
    var pageToken: String?
    /// Ids of the list page already stored, and the last of them: listing again finds where to go on
    /// (by the id; by the count if that message was deleted meanwhile).
    var done: Int? = nil
    var lastDoneId: String? = nil

    /// Where in a fresh listing of this page the ids still to fetch start.
    func start(in ids: [String]) -> Int {
        guard let done, done > 0 else { return 0 }
        if let lastDoneId, let index = ids.firstIndex(of: lastDoneId) { return index + 1 }
        return min(done - 1, ids.count)
    }

    var label: String { Self.labels[labelIndex] }
    var folder: FolderKind { labelIndex == 0 ? .inbox : .sent }

    func encoded() -> String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> GmailCursor {
        guard let cursor = try? JSONDecoder().decode(GmailCursor.self, from: Data(text.utf8)),
            Self.labels.indices.contains(cursor.labelIndex)
        else {
            throw ProviderFailure.invalidResponse("gmail backfill cursor is unreadable")
        }
        return cursor
    }
}
