import Foundation

/// The RFC 5322 `Date` header ("Thu, 7 Jan 2021 15:02:01 +0000"), with or without the weekday and the
/// seconds, a numeric zone or an obsolete name (GMT, UT, EST…), and a trailing comment ("(UTC)"). Parsed by
/// hand: a `DateFormatter` per message cost a quarter of the service's CPU under load.
enum MailDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    /// RFC 5322 section 4.3's obsolete zones, in minutes east of UTC.
    private static let namedZones: [String: Int] = [
        "ut": 0, "gmt": 0, "z": 0, "utc": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
        "pst": -480, "pdt": -420,
    ]
    /// Days before each month in a common year.
    private static let daysBefore = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]

    static func parse(_ text: String) -> Date? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        // A trailing comment, "(UTC)" or "(Pacific Standard Time)".
        if let open = words.firstIndex(where: { $0.hasPrefix("(") }) { words.removeSubrange(open...) }
        // The weekday ("Thu," or "Thu ,"), which says nothing the date does not.
        if let first = words.first, first.last == "," || words.dropFirst().first == "," {
            words.removeFirst()
            if words.first == "," { words.removeFirst() }
        }
        guard words.count == 5, let day = Int(words[0]), (1...31).contains(day),
              let month = months.firstIndex(of: words[1].lowercased().prefix(3).description), words[1].count >= 3,
              var year = Int(words[2]), let zone = zoneMinutes(words[4])
        else { return nil }
        if words[2].count == 2 { year += year < 50 ? 2000 : 1900 }  // obsolete two-digit years
        if words[2].count == 3 { year += 1900 }
        let time = words[3].split(separator: ":").map { Int($0) }
        guard (2...3).contains(time.count), time.allSatisfy({ $0 != nil }), (1...9999).contains(year) else { return nil }
        let (hour, minute, second) = (time[0]!, time[1]!, time.count == 3 ? time[2]! : 0)
        guard (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= monthDays[month] else { return nil }
        let days = daysFrom1970(year: year) + daysBefore[month] + (leap && month > 1 ? 1 : 0) + day - 1
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - zone * 60
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// "+0100", "-0830" or a named zone, in minutes east of UTC.
    private static func zoneMinutes(_ text: String) -> Int? {
        if let sign = text.first, sign == "+" || sign == "-", text.count == 5, let value = Int(text.dropFirst()) {
            let minutes = value / 100 * 60 + value % 100
            guard value % 100 < 60 else { return nil }
            return sign == "-" ? -minutes : minutes
        }
        return namedZones[text.lowercased()]
    }

    /// Days from 1970-01-01 to January 1st of `year` (proleptic Gregorian).
    private static func daysFrom1970(year: Int) -> Int {
        func leapDays(before year: Int) -> Int { let y = year - 1; return y / 4 - y / 100 + y / 400 }
        return (year - 1970) * 365 + leapDays(before: year) - leapDays(before: 1970)
    }
}
