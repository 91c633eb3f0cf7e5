import BackfillCore
import Foundation

/// Estimates for the range picker: the folders a backfill reads (Inbox with the folders under it, Sent Items),
/// then `$count` per folder with each range's `receivedDateTime` filter, up to 4 in flight. `totalItemCount`
/// would be one request fewer for everything, but it counts items that are not messages.
extension GraphProvider: BackfillEstimating {
    public func estimates(connectionId: String, now: Date) async throws -> [RangeEstimate] {
        let mailbox = try await mailbox(connectionId)
        let folders = try await resolveFolders(mailbox)
        let probes = RangeEstimate.ranges.flatMap { range in
            folders.compactMap { folder in range.window(pinnedAt: now).map { (range: range, folder: folder, window: $0) } }
        }
        let counts = try await concurrently(probes) { probe in
            (probe.range, try await messageCount(mailbox, in: probe.folder, window: probe.window))
        }
        let messages = RangeEstimate.monotonic(RangeEstimate.ranges.map { range in
            counts.reduce(0) { $0 + ($1.0 == range ? $1.1 : 0) }
        })
        let duration = durationEstimate(folders: folders.count)
        return zip(RangeEstimate.ranges, messages).map { RangeEstimate(range: $0, messages: $1, seconds: duration.seconds(messages: $1)) }
    }

    /// A backfill's time at 4 requests in flight, after its setup requests: the folders (about one each and
    /// the inbox), a count per folder, and a round of probes where the streams are cut.
    func durationEstimate(folders: Int) -> BackfillDurationEstimate {
        .graph(pageSize: pageSize, setupRequests: 2 * folders + 2)
    }

    private func messageCount(_ mailbox: GraphMailbox, in folder: GraphFolder, window: DateWindow) async throws -> Int {
        let route = "graph GET messages/$count"
        let response = try await send(
            mailbox, url: mailbox.count(in: folder.id, window: window), route: route,
            extraHeaders: [("ConsistencyLevel", "eventual")]
        )
        let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let count = Int(text), count >= 0 else { throw ProviderFailure.invalidResponse("\(route): not a count") }
        return count
    }
}
