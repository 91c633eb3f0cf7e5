import BackfillCore
import Foundation

/// A folder a Graph backfill pulls, and what its messages are stored as.
struct GraphFolder: Codable, Sendable, Equatable {
    var id: String
    var kind: FolderKind
}

/// Where a Graph backfill stands: the folders resolved on the first page (so a resumed backfill walks
/// the same ones), the folder being listed, and the `@odata.nextLink` to follow verbatim (nil: start
/// the folder's first page).
struct GraphCursor: Codable, Sendable, Equatable {
    var folders: [GraphFolder]
    var index: Int
    var nextLink: String?

    func encoded() -> String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> GraphCursor {
        guard let cursor = try? JSONDecoder().decode(GraphCursor.self, from: Data(text.utf8)),
            cursor.index >= 0, cursor.index < cursor.folders.count
        else {
            throw ProviderFailure.invalidResponse("graph backfill cursor is unreadable")
        }
        return cursor
    }
}
