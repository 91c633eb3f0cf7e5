import Foundation

/// A half-open time window [start, end) over a message's received time.
public struct DateWindow: Sendable, Hashable, Codable {
    public var start: Date
    public var end: Date

    /// Earlier than any mail a provider holds; the start of the `all` range.
    public static let beginningOfMail = Date(timeIntervalSince1970: 0)

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }

    public func contains(_ date: Date) -> Bool {
        date >= start && date < end
    }

    /// How long the newest piece of `newestFirst()` is: a backfill stores its newest week before anything
    /// older, so the mailbox is useful in seconds whatever range was picked.
    public static let newestSpan: TimeInterval = 7 * 86_400

    /// The window cut into pieces that partition it, newest first: the newest `newestSpan`, then pieces each as
    /// long as everything before them (a week, two, four, …), so even fifty years take a dozen pieces.
    public func newestFirst(span: TimeInterval = DateWindow.newestSpan) -> [DateWindow] {
        guard start < end else { return [self] }
        var pieces: [DateWindow] = []
        var pieceEnd = end
        var length = max(span, 1)
        while pieceEnd > start {
            let pieceStart = max(start, pieceEnd.addingTimeInterval(-length))
            pieces.append(DateWindow(start: pieceStart, end: pieceEnd))
            if pieces.count > 1 { length *= 2 }
            pieceEnd = pieceStart
        }
        return pieces
    }
}
