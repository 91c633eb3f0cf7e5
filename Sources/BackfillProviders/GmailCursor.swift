import BackfillCore
import Foundation

/// Where a Gmail backfill stands: the label being listed (INBOX first, then SENT) and the list's page token.
struct GmailCursor: Codable, Sendable, Equatable {
    static let labels = ["INBOX", "SENT"]

    var labelIndex: Int
    var pageToken: String?

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
