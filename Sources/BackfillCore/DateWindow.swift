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
}
