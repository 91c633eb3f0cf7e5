import BackfillCore
import Foundation

/// A backfill as stored in its Redis hash (see `SchedulerKeys`), decoded.
public struct BackfillRecord: Sendable, Equatable {
    public var id: String
    public var state: BackfillState
    public var range: BackfillRange
    public var window: DateWindow
    /// The provider's opaque cursor for the next page; nil before the first page.
    public var cursor: String?
    /// The last page has been committed; only the handoff is left.
    public var pagesDone: Bool
    public var prepared: Bool
    public var pulled: Int
    public var estimatedTotal: Int
    public var createdAt: Date
    public var startedAt: Date?
    public var lastProgressAt: Date?
    public var completedAt: Date?
    public var retryAt: Date?
    public var rateSince: Date?
    public var rateSincePulled: Int
    public var error: BackfillRecordError?
    /// Failures in a row that count against the retry budget (throttling never does).
    public var attempts: Int
    public var throttles: Int
    public var pages: Int
    /// Flagged by the tick: running with no progress for the stall period.
    public var stalled: Bool
    /// Messages the provider refused to serve, skipped and listed (`Scheduler.skippedMessages`).
    public var skipped: Int
    /// The last completeness audit of a completed backfill; nil before the first.
    public var audit: AuditSummary?

    /// What the last completeness audit did.
    public struct AuditSummary: Sendable, Equatable {
        public var auditedAt: Date
        public var repaired: Int
        public var unrepaired: Int
    }

    /// Decodes the hash's fields; nil when required fields are missing or unreadable.
    init?(fields raw: [String: String]) {
        func text(_ field: BackfillField) -> String? { raw[field.rawValue] }
        func date(_ field: BackfillField) -> Date? {
            text(field).flatMap(Int64.init).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
        func int(_ field: BackfillField) -> Int { text(field).flatMap(Int.init) ?? 0 }
        guard let id = text(.id),
              let state = text(.state).flatMap(BackfillState.init(rawValue:)),
              let range = text(.range).flatMap(BackfillRange.init(rawValue:)),
              let start = date(.windowStart), let end = date(.windowEnd), let createdAt = date(.createdAt)
        else { return nil }
        self.id = id
        self.state = state
        self.range = range
        self.window = DateWindow(start: start, end: end)
        self.cursor = text(.cursor).flatMap { $0.isEmpty ? nil : $0 }
        self.pagesDone = int(.pagesDone) == 1
        self.prepared = int(.prepared) == 1
        self.pulled = int(.pulled)
        self.estimatedTotal = int(.estimatedTotal)
        self.createdAt = createdAt
        self.startedAt = date(.startedAt)
        self.lastProgressAt = date(.lastProgressAt)
        self.completedAt = date(.completedAt)
        self.retryAt = date(.retryAt)
        self.rateSince = date(.rateSince)
        self.rateSincePulled = int(.rateSincePulled)
        self.error = text(.errorCode).flatMap(BackfillErrorCode.init(rawValue:)).map {
            BackfillRecordError(code: $0, message: text(.errorMessage) ?? "", retryable: int(.errorRetryable) == 1)
        }
        self.attempts = int(.attempts)
        self.throttles = int(.throttles)
        self.pages = int(.pages)
        self.stalled = int(.stalled) == 1
        self.skipped = int(.skipped)
        self.audit = date(.auditedAt).map { AuditSummary(auditedAt: $0, repaired: int(.auditRepaired), unrepaired: int(.auditUnrepaired)) }
    }

    /// The field names a view of the backfill reads (`BackfillField.view`).
    static let viewFields = BackfillField.view.map(\.rawValue)

    /// Decodes the reply of `HMGET key viewFields…`.
    init?(viewReply reply: [String?]) {
        var fields: [String: String] = [:]
        for (field, value) in zip(Self.viewFields, reply) { fields[field] = value }
        self.init(fields: fields)
    }

    /// Decodes a flat `field, value, field, value` list as HGETALL returns it.
    init?(flat: some Collection<String>) {
        var fields: [String: String] = [:]
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() { fields[key] = value }
        self.init(fields: fields)
    }

    /// The figures the ETA estimator needs.
    public var progress: BackfillProgress {
        BackfillProgress(
            state: state, pulled: pulled, estimatedTotal: estimatedTotal, rateSince: rateSince,
            pulledAtRateSince: rateSincePulled, retryAt: retryAt
        )
    }

    /// What the provider needs to know about this backfill.
    func job(connectionId: String) -> BackfillJob {
        BackfillJob(connectionId: connectionId, backfillId: id, window: window)
    }
}

/// The error a backfill shows, as stored.
public struct BackfillRecordError: Sendable, Equatable {
    public var code: BackfillErrorCode
    public var message: String
    public var retryable: Bool
}
