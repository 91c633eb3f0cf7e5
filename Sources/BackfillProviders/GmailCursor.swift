import BackfillCore
import Foundation

/// Where a Gmail backfill stands: the piece of the window being listed (`DateWindow.newestFirst`: the newest
/// week first), the label within it (INBOX, then SENT), the list's page token, and within that list page the last
/// id already stored (a page cut short by its time budget).
struct GmailCursor: Codable, Sendable, Equatable {
    static let labels = ["INBOX", "SENT"]

    /// Index into the window's `newestFirst()` pieces; nil in a cursor written before pieces existed, which
    /// lists the whole window.
    var piece: Int?
    var labelIndex: Int
    var pageToken: String?
    /// Ids of the list page already stored, and the last of them: listing again finds where to go on
    /// (by the id; by the count if that message was deleted meanwhile).
    var done: Int? = nil
    var lastDoneId: String? = nil

    static let start = GmailCursor(piece: 0, labelIndex: 0, pageToken: nil)

    /// Where in a fresh listing of this page the ids still to fetch start.
    func start(in ids: [String]) -> Int {
        guard let done, done > 0 else { return 0 }
        if let lastDoneId, let index = ids.firstIndex(of: lastDoneId) { return index + 1 }
        return min(done - 1, ids.count)
    }

    var label: String { Self.labels[labelIndex] }
    var folder: FolderKind { labelIndex == 0 ? .inbox : .sent }

    /// The part of `window` this cursor lists.
    func listed(of window: DateWindow, pieces: [DateWindow]) -> DateWindow {
        piece.map { pieces[min($0, pieces.count - 1)] } ?? window
    }

    /// The cursor after a listing ended (no next page token): the next label, else the next piece; nil at the end.
    func afterListing(pieces: [DateWindow]) -> GmailCursor? {
        if labelIndex + 1 < Self.labels.count { return GmailCursor(piece: piece, labelIndex: labelIndex + 1, pageToken: nil) }
        guard let piece, piece + 1 < pieces.count else { return nil }
        return GmailCursor(piece: piece + 1, labelIndex: 0, pageToken: nil)
    }

    /// Keys sorted: the same position is always the same text.
    func encoded() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> GmailCursor {
        guard let cursor = try? JSONDecoder().decode(GmailCursor.self, from: Data(text.utf8)),
            Self.labels.indices.contains(cursor.labelIndex), (cursor.piece ?? 0) >= 0
        else {
            throw ProviderFailure.invalidResponse("gmail backfill cursor is unreadable")
        }
        return cursor
    }
}
