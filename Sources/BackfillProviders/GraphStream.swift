import BackfillCore
import Foundation

/// One piece of a Graph backfill: a folder's messages received in a sub-window of the backfill window,
/// listed newest first. Sub-windows are half-open like the backfill window and cut it without gaps or
/// overlaps, so every message of the folder belongs to exactly one of its streams.
struct GraphStream: Codable, Sendable, Equatable {
    /// Index into the cursor's folders.
    var folder: Int
    var window: DateWindow
    /// The `@odata.nextLink` to follow verbatim; nil: the first page is still to be requested (pending),
    /// or the stream is done.
    var nextLink: String?
    var done: Bool

    init(folder: Int, window: DateWindow, nextLink: String? = nil, done: Bool = false) {
        self.folder = folder
        self.window = window
        self.nextLink = nextLink
        self.done = done
    }

    /// After a listed page: follow its `@odata.nextLink`, or done when there is none.
    mutating func advance(to nextLink: String?) {
        self.nextLink = nextLink
        done = nextLink == nil
    }
}
