import BackfillCore
import Foundation

/// A backfill in a terminal's words, the same the console's card uses ("Syncing last 90 days"), for
/// `backfill watch` and `status`. Pure: the time and the width are handed in, so tests pin exact strings.
public enum StatusLine {
    /// What the backfill is doing, first: "Syncing last 90 days", "Throttled by the provider — next try in 12 s",
    /// "Pacing to Gmail's quota — next batch in 21 s" (its own pacing, which is not a refusal).
    public static func headline(_ backfill: BackfillView, provider: ProviderKind? = nil, now: Date) -> String {
        let next = backfill.retryAt.map { "next try " + relative($0, now: now) }
        if backfill.state == .throttled, backfill.error?.code == .pacing {
            let quota = provider == .gmail ? "Gmail's quota" : "the provider's quota"
            return "Pacing to \(quota)" + (backfill.retryAt.map { " — next batch " + relative($0, now: now) } ?? "")
        }
        switch backfill.state {
        case .queued: return backfill.retryAt.map { "Retrying " + relative($0, now: now) } ?? "Queued — starting soon"
        case .running: return "Syncing \(phrase(backfill.range))"
        case .paused: return backfill.pausing ? "Pausing…" : "Paused"
        case .throttled: return "Throttled by the provider" + (next.map { " — \($0)" } ?? "")
        case .waitingOnParent: return "Waiting on the parent mailbox"
        case .completed: return "Synced \(phrase(backfill.range))"
        case .cancelled: return "Cancelled"
        case .failed: return "Failed" + (backfill.error.map { ": \($0.message)" } ?? "")
        }
    }

    /// The headline, the count, the ETA, and what is wrong when the headline did not already say it.
    public static func line(_ backfill: BackfillView, provider: ProviderKind? = nil, now: Date) -> String {
        var parts = [headline(backfill, provider: provider, now: now), count(backfill)]
        if let eta = backfill.etaSeconds { parts.append(remaining(eta)) }
        if backfill.stalled && !backfill.state.isFinished { parts.append("stalled") }
        // A throttle or a failure is the headline itself; other errors (a retried transient one) come after.
        if let error = backfill.error, backfill.state != .throttled, backfill.state != .failed { parts.append(error.message) }
        return parts.joined(separator: " · ")
    }

    /// `backfill watch`'s line on a terminal `columns` wide: a progress bar (when there is room) and the line,
    /// cut with "…" to `columns - 1` so that the cursor never wraps and `\r` redraws it in place.
    public static func watchLine(_ backfill: BackfillView, provider: ProviderKind? = nil, now: Date, columns: Int) -> String {
        let width = columns - 1
        let text = line(backfill, provider: provider, now: now)
        guard width >= 40 else { return fitted(text, width: width) }
        let barWidth = min(30, width / 5)
        return fitted(bar(fraction(backfill), width: barWidth) + " " + text, width: width)
    }

    /// `text` in at most `width` characters, its end replaced by "…" when cut.
    public static func fitted(_ text: String, width: Int) -> String {
        guard width > 0 else { return "" }
        guard text.count > width else { return text }
        return text.prefix(width - 1) + "…"
    }

    /// "in 12 s", "in 4 min", "in 2 h 5 min"; "now" once it has passed.
    public static func relative(_ date: Date, now: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded(.up))
        guard seconds > 0 else { return "now" }
        if seconds < 90 { return "in \(seconds) s" }
        let minutes = (seconds + 30) / 60
        return minutes < 60 ? "in \(minutes) min" : "in \(minutes / 60) h \(minutes % 60) min"
    }

    /// Real time's passing trouble once shown: "New mail delayed: <error> · 3 checks in a row failed · next try in 40 s".
    public static func delayed(_ failing: RealtimeFailing, now: Date) -> String {
        var parts = ["New mail delayed: \(failing.message)", "\(number(failing.failures)) checks in a row failed"]
        if let next = failing.nextTryAt { parts.append("next try " + relative(next, now: now)) }
        return parts.joined(separator: " · ")
    }

    /// "3,247 of ~8,500 messages", or "3,247 messages" when there is no estimate or it is done.
    public static func count(_ backfill: BackfillView) -> String {
        let total = max(backfill.estimatedTotal, backfill.pulled)
        return total > 0 && backfill.state != .completed
            ? "\(number(backfill.pulled)) of ~\(number(total)) messages"
            : "\(number(backfill.pulled)) messages"
    }

    /// "~4 min remaining", "<1 min remaining".
    static func remaining(_ seconds: Int) -> String {
        if seconds < 60 { return "<1 min remaining" }
        let minutes = (seconds + 30) / 60
        return (minutes < 60 ? "~\(minutes) min" : "~\(minutes / 60) h \(minutes % 60) min") + " remaining"
    }

    /// The fraction done, 0...1 (1 when completed).
    public static func fraction(_ backfill: BackfillView) -> Double {
        if backfill.state == .completed { return 1 }
        let total = max(backfill.estimatedTotal, backfill.pulled)
        return total > 0 ? Double(backfill.pulled) / Double(total) : 0
    }

    /// `[#########...........]`, `width` cells between the brackets.
    public static func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((min(max(fraction, 0), 1) * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// "last 90 days", "all mail".
    static func phrase(_ range: BackfillRange) -> String {
        range == .everything ? "all mail" : range.phrase
    }

    public static func number(_ value: Int) -> String {
        let digits = String(abs(value))
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(character)
        }
        return (value < 0 ? "-" : "") + grouped
    }
}
