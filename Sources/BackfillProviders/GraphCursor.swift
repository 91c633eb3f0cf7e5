import BackfillCore
import Foundation

/// A folder a Graph backfill pulls, and what its messages are stored as.
struct GraphFolder: Codable, Sendable, Equatable {
    var id: String
    var kind: FolderKind
}

/// Where a Graph backfill stands: the folders resolved on the first page (so a resumed backfill walks
/// the same ones) and every stream (folder × sub-window), each pending, listing (its `@odata.nextLink`)
/// or done. A page lists the first `limit` streams not done, side by side.
struct GraphCursor: Codable, Sendable, Equatable {
    var folders: [GraphFolder]
    /// In listing order: newest sub-windows first.
    var streams: [GraphStream]

    /// The streams the next page lists: the first `limit` not done. Streams are taken up in order, so
    /// the streams already listing are always among them.
    func activeStreams(limit: Int) -> [Int] {
        Array(streams.indices.filter { !streams[$0].done }.prefix(limit))
    }

    var isFinished: Bool { streams.allSatisfy(\.done) }

    func encoded() -> String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Reads a cursor, or the single-stream cursor of earlier versions (folders walked one after another,
    /// `index` the folder being listed): its current folder continues at its `@odata.nextLink`, each later
    /// folder becomes one stream over the whole `window`, the earlier ones are done.
    static func decode(_ text: String, window: DateWindow) throws -> GraphCursor {
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        if let cursor = try? decoder.decode(GraphCursor.self, from: data), cursor.isValid {
            return cursor
        }
        if let old = try? decoder.decode(SingleStream.self, from: data), old.index >= 0, old.index < old.folders.count {
            let streams = old.folders.indices.map { folder in
                GraphStream(
                    folder: folder, window: window, nextLink: folder == old.index ? old.nextLink : nil, done: folder < old.index
                )
            }
            return GraphCursor(folders: old.folders, streams: streams)
        }
        throw ProviderFailure.invalidResponse("graph backfill cursor is unreadable")
    }

    private var isValid: Bool {
        streams.allSatisfy { folders.indices.contains($0.folder) && $0.window.start < $0.window.end }
    }

    /// The cursor format before streams: one folder at a time.
    private struct SingleStream: Decodable {
        var folders: [GraphFolder]
        var index: Int
        var nextLink: String?
    }
}
