import Foundation

/// The `Date` header of Gmail messages ("Thu, 27 Aug 2026 00:00:00 +0000") written from integer arithmetic:
/// every rendered message has one, and a DateFormatter per message was a tenth of the simulator's time.
enum MailDate {
    /// 1582-10-15, the first Gregorian day: the formatter counts Julian days before it.
    private static let gregorianStart: Int64 = -12_219_292_800
    /// The year 10000, which a fifth digit would need.
    private static let yearTenThousand: Int64 = 253_402_300_800
    private static let weekdays = Array("SunMonTueWedThuFriSat".utf8)
    private static let months = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)
    private static let zone = Array(" +0000".utf8)

    static func rfc2822(_ seconds: Int64) -> String {
        guard seconds >= gregorianStart, seconds < yearTenThousand else { return formatted(seconds) }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = Int(seconds - days * 86_400)
        let (year, month, day) = ISOTime.civil(fromDays: days)
        let weekday = Int((days % 7 + 11) % 7) // 1970-01-01 was a Thursday
        var bytes: [UInt8] = []
        bytes.reserveCapacity(31)
        func two(_ value: Int) {
            bytes.append(UInt8(48 + value / 10))
            bytes.append(UInt8(48 + value % 10))
        }
        bytes.append(contentsOf: weekdays[weekday * 3 ..< weekday * 3 + 3])
        bytes.append(44) // ","
        bytes.append(32)
        if day >= 10 { bytes.append(UInt8(48 + day / 10)) }
        bytes.append(UInt8(48 + day % 10))
        bytes.append(32)
        bytes.append(contentsOf: months[(month - 1) * 3 ..< month * 3])
        bytes.append(32)
        two(year / 100)
        two(year % 100)
        bytes.append(32)
        two(rest / 3600)
        bytes.append(58) // ":"
        two(rest / 60 % 60)
        bytes.append(58)
        two(rest % 60)
        bytes.append(contentsOf: zone)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The formatter the simulator always used, for the times the arithmetic above leaves to it.
    private static func formatted(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, d MMM yyyy HH:mm:ss +0000"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
