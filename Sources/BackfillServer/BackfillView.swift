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
    /// Messages the provider refused to serve, skipped and listed at `/v1/connections/{id}/skipped`.
    public var skipped: Int
    /// The last completeness audit: when it ran, what it stored, what the provider would not serve; null before.
    public var audit: AuditView?
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
        skipped = record.skipped
        audit = record.audit.map { AuditView(auditedAt: $0.auditedAt, repaired: $0.repaired, unrepaired: $0.unrepaired) }
        pausing = record.state == .paused && leaseHeld
        error = record.error.map { ProblemView(code: $0.code, message: $0.message, retryable: $0.retryable) }
    }

    enum CodingKeys: String, CodingKey {
        case id, state, range, windowStart, windowEnd, pulled, estimatedTotal, etaSeconds, startedAt, lastProgressAt
        case completedAt, retryAt, stalled, skipped, audit, pausing, error
    }

    /// A view from a server older than `skipped`, `audit` and `pausing` reads as settled, with nothing skipped.
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
        skipped = try container.decodeIfPresent(Int.self, forKey: .skipped) ?? 0
        audit = try container.decodeIfPresent(AuditView.self, forKey: .audit)
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
        try container.encode(skipped, forKey: .skipped)
        try container.encode(audit, forKey: .audit)
        try container.encode(pausing, forKey: .pausing)
        try container.encode(error, forKey: .error)
    }
}

/// A backfill's last completeness audit as the API shows it.
public struct AuditView: Codable, Sendable, Equatable {
    public var auditedAt: Date
    public var repaired: Int
    public var unrepaired: Int
}

/// An error as the API shows it on a backfill or a connection.
public struct ProblemView: Codable, Sendable, Equatable {
    public var code: BackfillErrorCode
    public var message: String
    public var retryable: Bool
}
