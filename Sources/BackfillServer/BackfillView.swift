import BackfillCore
import BackfillScheduler
import Foundation

/// A backfill as the API shows it. Every key is always present (null when there is no value).
public struct BackfillView: Codable, Sendable, Equatable {
    public var id: String
    public var state: BackfillState
    public var range: BackfillRange
    public var windowStart: Date
    public var windowEnd: Date
    public var pulled: Int
    public var estimatedTotal: Int
    public var etaSeconds: Int?
    public var startedAt: Date?
    public var lastProgressAt: Date?
    public var completedAt: Date?
    public var retryAt: Date?
    public var stalled: Bool
    /// Paused, but a worker still holds the lease: the pages in flight land (and `pulled` rises) before it stops.
    public var pausing: Bool
    public var error: ProblemView?

    /// - Parameter leaseHeld: a worker holds the connection's lease now (read only for a paused backfill).
    init(_ record: BackfillRecord, leaseHeld: Bool = false, now: Date, estimator: EtaEstimator = EtaEstimator()) {
        id = record.id
        state = record.state
        range = record.range
        windowStart = record.window.start
        windowEnd = record.window.end
        pulled = record.pulled
        estimatedTotal = record.estimatedTotal
        etaSeconds = estimator.secondsRemaining(for: record.progress, now: now)
        startedAt = record.startedAt
        lastProgressAt = record.lastProgressAt
        completedAt = record.completedAt
        retryAt = record.retryAt
        stalled = record.stalled
        pausing = record.state == .paused && leaseHeld
        error = record.error.map { ProblemView(code: $0.code, message: $0.message, retryable: $0.retryable) }
    }

    enum CodingKeys: String, CodingKey {
        case id, state, range, windowStart, windowEnd, pulled, estimatedTotal, etaSeconds, startedAt, lastProgressAt
        case completedAt, retryAt, stalled, pausing, error
    }

    /// A view from a server older than `pausing` reads as settled.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        state = try container.decode(BackfillState.self, forKey: .state)
        range = try container.decode(BackfillRange.self, forKey: .range)
        windowStart = try container.decode(Date.self, forKey: .windowStart)
        windowEnd = try container.decode(Date.self, forKey: .windowEnd)
        pulled = try container.decode(Int.self, forKey: .pulled)
        estimatedTotal = try container.decode(Int.self, forKey: .estimatedTotal)
        etaSeconds = try container.decodeIfPresent(Int.self, forKey: .etaSeconds)
        startedAt = try container.decodeIfPresent(Date.self, forKey: .startedAt)
        lastProgressAt = try container.decodeIfPresent(Date.self, forKey: .lastProgressAt)
        completedAt = try container.decodeIfPresent(Date.self, forKey: .completedAt)
        retryAt = try container.decodeIfPresent(Date.self, forKey: .retryAt)
        stalled = try container.decode(Bool.self, forKey: .stalled)
        pausing = try container.decodeIfPresent(Bool.self, forKey: .pausing) ?? false
        error = try container.decodeIfPresent(ProblemView.self, forKey: .error)
    }

    public func encode(to encoder: any Encoder) throws {
        // Optionals are encoded as null, not left out: the API promises every key.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(state, forKey: .state)
        try container.encode(range, forKey: .range)
        try container.encode(windowStart, forKey: .windowStart)
        try container.encode(windowEnd, forKey: .windowEnd)
        try container.encode(pulled, forKey: .pulled)
        try container.encode(estimatedTotal, forKey: .estimatedTotal)
        try container.encode(etaSeconds, forKey: .etaSeconds)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(lastProgressAt, forKey: .lastProgressAt)
        try container.encode(completedAt, forKey: .completedAt)
        try container.encode(retryAt, forKey: .retryAt)
        try container.encode(stalled, forKey: .stalled)
        try container.encode(pausing, forKey: .pausing)
        try container.encode(error, forKey: .error)
    }
}

/// An error as the API shows it on a backfill or a connection.
public struct ProblemView: Codable, Sendable, Equatable {
    public var code: BackfillErrorCode
    public var message: String
    public var retryable: Bool
}
