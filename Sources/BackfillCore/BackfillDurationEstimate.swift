/// How long a backfill of a given number of messages should take at a mailbox's limits, before it starts
/// (the range picker's "about 2 minutes"). Pure: the provider hands in its limit, nothing is measured here.
/// Once a backfill runs, `EtaEstimator` takes over from the observed rate.
public struct BackfillDurationEstimate: Sendable, Equatable {
    /// What bounds a provider's backfill speed.
    public enum Limit: Sendable, Equatable {
        /// A quota of units a minute, spent evenly (Gmail): every message costs a fetch, every page of
        /// `listPageSize` ids one listing.
        case quota(unitsPerMinute: Int, unitsPerMessage: Int, unitsPerListPage: Int, listPageSize: Int)
        /// Requests in flight per mailbox, each taking `millisecondsPerRequest` (Graph): pages of up to
        /// `pageSize` messages, after `setupRequests` sent one at a time (folders, counts).
        case requests(inFlight: Int, millisecondsPerRequest: Int, pageSize: Int, setupRequests: Int)
    }

    /// A request's time when none was measured: a page of Graph messages with attachment metadata.
    public static let assumedMillisecondsPerRequest = 300

    public var limit: Limit

    public init(limit: Limit) {
        self.limit = limit
    }

    /// Gmail at its per-user quota, paced as admission paces it.
    public static func gmail(
        quotaUnitsPerMinute: Int = AdmissionPolicy.gmailQuotaUnitsPerMinute, unitsPerMessage: Int, unitsPerListPage: Int,
        listPageSize: Int
    ) -> BackfillDurationEstimate {
        BackfillDurationEstimate(limit: .quota(
            unitsPerMinute: AdmissionPolicy.pacedUnitsPerMinute(quotaUnitsPerMinute), unitsPerMessage: unitsPerMessage,
            unitsPerListPage: unitsPerListPage, listPageSize: listPageSize
        ))
    }

    /// Graph with admission's requests in flight per mailbox.
    public static func graph(
        pageSize: Int, setupRequests: Int, millisecondsPerRequest: Int = assumedMillisecondsPerRequest
    ) -> BackfillDurationEstimate {
        BackfillDurationEstimate(limit: .requests(
            inFlight: AdmissionPolicy.requestsInFlightPerMailbox, millisecondsPerRequest: millisecondsPerRequest, pageSize: pageSize,
            setupRequests: setupRequests
        ))
    }

    /// Whole seconds, rounded up; 0 for no messages.
    public func seconds(messages: Int) -> Int {
        guard messages > 0 else { return 0 }
        switch limit {
        case let .quota(unitsPerMinute, unitsPerMessage, unitsPerListPage, listPageSize):
            let pages = Self.divideRoundingUp(messages, max(listPageSize, 1))
            let units = messages * unitsPerMessage + pages * unitsPerListPage
            return Self.divideRoundingUp(units * 60, max(unitsPerMinute, 1))
        case let .requests(inFlight, millisecondsPerRequest, pageSize, setupRequests):
            let pages = Self.divideRoundingUp(messages, max(pageSize, 1))
            let rounds = Self.divideRoundingUp(pages, max(inFlight, 1))
            return Self.divideRoundingUp((setupRequests + rounds) * millisecondsPerRequest, 1000)
        }
    }

    private static func divideRoundingUp(_ value: Int, _ divisor: Int) -> Int {
        (value + divisor - 1) / divisor
    }
}
