import BackfillCore
import Foundation

/// `GET /v1/connections/{id}/estimates`: per range, about how many messages Inbox and Sent hold and about
/// how long pulling them takes. When the provider could not be asked, `ranges` is empty and `error` says why
/// (the picker then shows no figures; it never blocks on them). Every key is always present.
public struct EstimatesView: Codable, Sendable, Equatable {
    public var connectionId: String
    /// When the provider was asked (a cached answer keeps its time).
    public var computedAt: Date
    /// The range the picker recommends.
    public var recommended: BackfillRange
    public var ranges: [RangeEstimate]
    public var error: ProblemView?

    init(connectionId: String, computedAt: Date, ranges: [RangeEstimate], error: ProblemView?) {
        self.connectionId = connectionId
        self.computedAt = computedAt
        self.recommended = .recommended
        self.ranges = ranges
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case connectionId, computedAt, recommended, ranges, error
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(connectionId, forKey: .connectionId)
        try container.encode(computedAt, forKey: .computedAt)
        try container.encode(recommended, forKey: .recommended)
        try container.encode(ranges, forKey: .ranges)
        try container.encode(error, forKey: .error)  // null when the estimates are there
    }
}
