/// The fields of a backfill's hash, `P:bf:{id}` (times in ms since 1970): the one list of their names. Swift reads
/// them through this type; the scripts write them by these names, and a test checks that every name a script
/// writes into the hash is one of these.
enum BackfillField: String, CaseIterable, Sendable {
    case id, state, range, windowStart, windowEnd, cursor, pagesDone, pulled, estimatedTotal, prepared
    case createdAt, startedAt, lastProgressAt, completedAt, retryAt, rateSince, rateSincePulled
    case errorCode, errorMessage, errorRetryable, attempts, throttles, pages, stalled
    /// How many messages the provider refused to serve are listed in `P:skipped:{id}`.
    case skipped
    /// The last completeness audit (`AuditReport`): when, messages stored by it, messages it could not fetch.
    case auditedAt, auditRepaired, auditUnrepaired

    /// Every field but the provider's cursor (which can run to kilobytes): what a view of the backfill reads.
    static let view: [BackfillField] = allCases.filter { $0 != .cursor }
}
