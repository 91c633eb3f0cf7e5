import Foundation

/// `Retry-After` values in the three forms Graph uses (integer, fractional seconds, HTTP date).
enum RetryAfter {
    static func text(_ seconds: Double, style: SimulatorKnobs.RetryAfterStyle, now: Date) -> String {
        switch style {
        case .integer:
            return String(Int(seconds.rounded(.up)))
        case .fractional:
            return String(format: "%.3f", seconds + 0.128)
        case .httpDate:
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            return formatter.string(from: now.addingTimeInterval(seconds.rounded(.up) + 1))
        }
    }

    /// Seconds from `now` that a value asks for, in any of the forms.
    static func seconds(_ value: String, now: Date) -> Double? {
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: value).map { $0.timeIntervalSince(now) }
    }
}
