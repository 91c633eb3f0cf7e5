import BackfillCore
import BackfillServer
import Foundation

/// Words and figures for connections and backfills in a terminal (`StatusLine` holds the sentences).
enum ProgressText {
    /// "3,247/~8,500" for tables.
    static func shortCount(_ backfill: BackfillView) -> String {
        backfill.estimatedTotal > 0
            ? "\(StatusLine.number(backfill.pulled))/~\(StatusLine.number(backfill.estimatedTotal))" : StatusLine.number(backfill.pulled)
    }

    /// "~4 min", "<1 min", "~2 h 5 min", or "-" when there is no honest figure yet.
    static func eta(_ seconds: Int?) -> String {
        guard let seconds else { return "-" }
        if seconds < 60 { return "<1 min" }
        let minutes = (seconds + 30) / 60
        return minutes < 60 ? "~\(minutes) min" : "~\(minutes / 60) h \(minutes % 60) min"
    }

    /// One line about a backfill: what it is doing, count, ETA, and what is wrong.
    static func line(_ backfill: BackfillView, provider: ProviderKind) -> String {
        StatusLine.line(backfill, provider: provider, now: Date())
    }
}
