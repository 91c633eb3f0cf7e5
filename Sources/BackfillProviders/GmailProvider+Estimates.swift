import BackfillCore
import Foundation

/// Estimates for the range picker from a handful of cheap calls (about 32 quota units): each label's total
/// (`labels.get`, 1 unit) for everything, and one listing of up to 500 ids per label and range (5 units).
/// A listing that fits in one page is an exact count; a longer one gives its `resultSizeEstimate`, which is
/// only an estimate, kept between the ids listed and the label's total (docs/providers.md, Gmail estimates).
extension GmailProvider: BackfillEstimating {
    public func estimates(connectionId: String, now: Date) async throws -> [RangeEstimate] {
        let mailbox = try await mailbox(connectionId)
        let labels = GmailCursor.labels
        var labelTotals: [String: Int] = [:]
        for label in labels {
            let answer: LabelTotals = try await get(mailbox, url: mailbox.label(label), route: "gmail GET labels.get")
            labelTotals[label] = answer.messagesTotal ?? 0
        }
        let totals = labelTotals
        let windowed = RangeEstimate.ranges.filter { $0 != .everything }
        let counts = try await withThrowingTaskGroup(of: (BackfillRange, Int).self) { group in
            for range in windowed {
                guard let window = range.window(pinnedAt: now) else { continue }
                for label in labels {
                    // Admission holds the requests in flight to the mailbox's bound.
                    group.addTask {
                        let list: EstimateList = try await get(
                            mailbox, url: mailbox.list(label: label, window: window, pageToken: nil, pageSize: 500),
                            route: "gmail GET messages.list"
                        )
                        return (range, list.count(upTo: totals[label] ?? .max))
                    }
                }
            }
            var counts: [BackfillRange: Int] = [:]
            for try await (range, count) in group { counts[range, default: 0] += count }
            return counts
        }
        let messages = RangeEstimate.monotonic(
            windowed.map { counts[$0] ?? 0 } + [labels.reduce(0) { $0 + (totals[$1] ?? 0) }]
        )
        let duration = durationEstimate
        return zip(RangeEstimate.ranges, messages).map { RangeEstimate(range: $0, messages: $1, seconds: duration.seconds(messages: $1)) }
    }

    /// A backfill's cost at the quota: a fetch per message and a listing per page.
    var durationEstimate: BackfillDurationEstimate {
        .gmail(
            quotaUnitsPerMinute: quotaUnitsPerMinute, unitsPerMessage: Self.quotaUnits("gmail GET messages.get"),
            unitsPerListPage: Self.quotaUnits("gmail GET messages.list"), listPageSize: listPageSize
        )
    }

    private struct LabelTotals: Decodable {
        var messagesTotal: Int?
    }

    private struct EstimateList: Decodable {
        var messages: [GmailMessageList.Reference]?
        var nextPageToken: String?
        var resultSizeEstimate: Int?

        /// Exact when one page held every id; otherwise the estimate, at least what was listed and at most `total`.
        func count(upTo total: Int) -> Int {
            let listed = messages?.count ?? 0
            guard nextPageToken != nil else { return listed }
            return max(listed, min(resultSizeEstimate ?? listed, total))
        }
    }
}

extension GmailMailbox {
    /// One label with its totals.
    func label(_ id: String) -> String { "\(root)/labels/\(FormEncoding.escape(id))" }
}
