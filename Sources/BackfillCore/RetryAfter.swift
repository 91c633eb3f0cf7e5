import Foundation

/// Parses an HTTP `Retry-After` value: delay seconds (Graph also sends fractional seconds such as `2.128`)
/// or an HTTP date (IMF-fixdate, and the obsolete RFC 850 and asctime forms). Returns the delay from `now`,
/// never negative; nil when the value is missing or unreadable (callers then fall back to their policy).
public enum RetryAfter {
    /// The longest delay honoured as given; longer values are clamped so arithmetic stays finite.
    public static let longest: Duration = .seconds(7 * 24 * 3600)

    public static func delay(from value: String?, now: Date) -> Duration? {
        guard let text = value?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite {
            return clamp(seconds)
        }
        for format in httpDateFormats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) {
                return clamp(date.timeIntervalSince(now))
            }
        }
        return nil
    }

    private static let httpDateFormats = [
        "EEE, dd MMM yyyy HH:mm:ss zzz",  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        "EEEE, dd-MMM-yy HH:mm:ss zzz",   // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        "EEE MMM d HH:mm:ss yyyy",        // asctime: Sun Nov  6 08:49:37 1994
    ]

    private static func clamp(_ seconds: Double) -> Duration {
        let bounded = min(max(seconds, 0), longest.seconds)
        return .milliseconds(Int64((bounded * 1000).rounded(.up)))
    }
}
