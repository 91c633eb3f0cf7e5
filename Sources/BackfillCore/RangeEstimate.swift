/// What the range picker shows beside one range before anything is pulled: about how many messages the
/// range holds in Inbox and Sent, and about how long pulling them takes.
public struct RangeEstimate: Sendable, Equatable, Codable {
    public var range: BackfillRange
    public var messages: Int
    public var seconds: Int

    public init(range: BackfillRange, messages: Int, seconds: Int) {
        self.range = range
        self.messages = messages
        self.seconds = seconds
    }

    /// The ranges estimated, narrowest first (skip pulls nothing).
    public static let ranges: [BackfillRange] = [.last30Days, .last90Days, .last12Months, .everything]

    /// Counts of nested windows can come out of order (an estimate is not a count): a wider range never shows
    /// fewer messages than a narrower one.
    public static func monotonic(_ counts: [Int]) -> [Int] {
        var highest = 0
        return counts.map { count in
            highest = max(highest, count)
            return highest
        }
    }
}
