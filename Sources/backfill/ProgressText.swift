import BackfillServer

/// Words and figures for connections and backfills in a terminal.
enum ProgressText {
    static func number(_ value: Int) -> String {
        let digits = String(abs(value))
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(character)
        }
        return (value < 0 ? "-" : "") + grouped
    }

    /// "3,247 of ~8,500 messages", or "3,247 messages" when there is no estimate or it is done.
    static func count(_ backfill: BackfillView) -> String {
        let total = max(backfill.estimatedTotal, backfill.pulled)
        return total > 0 && backfill.state != .completed
            ? "\(number(backfill.pulled)) of ~\(number(total)) messages"
            : "\(number(backfill.pulled)) messages"
    }

    /// "3,247/~8,500" for tables.
    static func shortCount(_ backfill: BackfillView) -> String {
        backfill.estimatedTotal > 0 ? "\(number(backfill.pulled))/~\(number(backfill.estimatedTotal))" : number(backfill.pulled)
    }

    /// "~4 min", "<1 min", "~2 h 5 min", or "-" when there is no honest figure yet.
    static func eta(_ seconds: Int?) -> String {
        guard let seconds else { return "-" }
        if seconds < 60 { return "<1 min" }
        let minutes = (seconds + 30) / 60
        return minutes < 60 ? "~\(minutes) min" : "~\(minutes / 60) h \(minutes % 60) min"
    }

    /// The fraction done, 0...1 (1 when completed).
    static func fraction(_ backfill: BackfillView) -> Double {
        if backfill.state == .completed { return 1 }
        let total = max(backfill.estimatedTotal, backfill.pulled)
        return total > 0 ? Double(backfill.pulled) / Double(total) : 0
    }

    /// `[#########...........]` of `width` cells.
    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let filled = Int((min(max(fraction, 0), 1) * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// One line about a backfill: state, count, ETA and error.
    static func line(_ backfill: BackfillView) -> String {
        var parts = [backfill.state.rawValue, count(backfill)]
        if backfill.etaSeconds != nil { parts.append(eta(backfill.etaSeconds) + " remaining") }
        if let retryAt = backfill.retryAt, !backfill.state.isFinished { parts.append("next try \(retryAt.formatted(.iso8601))") }
        if backfill.stalled && !backfill.state.isFinished { parts.append("stalled") }
        if let error = backfill.error { parts.append("\(error.code.rawValue): \(error.message)") }
        return parts.joined(separator: " · ")
    }
}
