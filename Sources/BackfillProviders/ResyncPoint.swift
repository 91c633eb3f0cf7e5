import Foundation

/// Where a real-time catch-up starts over when its cursor expired (Graph 410, Gmail history 404): from the
/// start of the last catch-up that completed (or the moment the cursor was first taken), less a margin for
/// mail whose received time lags its arrival. Mail since then is listed again by date; what is stored
/// already is skipped by the store, so the overlap costs requests, never duplicates.
enum ResyncPoint {
    /// Mail can arrive with a received time somewhat in the past (clock skew, slow delivery).
    static let margin: TimeInterval = 600
    /// Without a recorded sync time (state written before it was kept): a day back.
    static let fallback: TimeInterval = 86_400

    static func start(syncedAt text: String?, now: Date) -> Date {
        guard let text, let ms = Int64(text) else { return now.addingTimeInterval(-fallback) }
        return Date(timeIntervalSince1970: TimeInterval(ms) / 1000).addingTimeInterval(-margin)
    }

    static func encode(_ date: Date) -> String {
        String(Int64(date.timeIntervalSince1970 * 1000))
    }
}
