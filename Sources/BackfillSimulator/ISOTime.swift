import Foundation

/// ISO 8601 UTC times without formatters: message pages print a time per message, and filters parse them.
enum ISOTime {
    /// "2021-01-29T17:03:11Z".
    static func format(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        // Written digit by digit: String(format:) is slow, and pages print one time per message.
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int, at offset: Int, width: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(year, at: 0, width: 4)
        put(month, at: 5, width: 2)
        put(day, at: 8, width: 2)
        put(Int(rest / 3600), at: 11, width: 2)
        put(Int(rest / 60 % 60), at: 14, width: 2)
        put(Int(rest % 60), at: 17, width: 2)
        for (index, separator) in [(4, 45), (7, 45), (10, 84), (13, 58), (16, 58), (19, 90)] {
            bytes[index] = UInt8(separator)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func format(_ date: Date) -> String {
        format(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`; fractions are dropped.
    static func parse(_ text: String) -> Int64? {
        let chars = Array(text.utf8)
        guard chars.count >= 19, chars[4] == 45, chars[7] == 45, chars[10] == 84 || chars[10] == 116,
              chars[13] == 58, chars[16] == 58,
              let year = number(chars, 0, 4), let month = number(chars, 5, 2), let day = number(chars, 8, 2),
              let hour = number(chars, 11, 2), let minute = number(chars, 14, 2), let second = number(chars, 17, 2),
              (1 ... 12).contains(month), (1 ... 31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if index < chars.count, chars[index] == 46 {
            index += 1
            while index < chars.count, (48 ... 57).contains(chars[index]) { index += 1 }
        }
        var offset: Int64 = 0
        if index == chars.count || (chars[index] == 90 || chars[index] == 122) && index + 1 == chars.count {
            offset = 0
        } else if chars.count - index == 6, chars[index] == 43 || chars[index] == 45, chars[index + 3] == 58,
                  let h = number(chars, index + 1, 2), let m = number(chars, index + 4, 2) {
            offset = Int64(h * 3600 + m * 60) * (chars[index] == 45 ? -1 : 1)
        } else {
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offset
    }

    private static func number(_ chars: [UInt8], _ start: Int, _ length: Int) -> Int? {
        var value = 0
        for char in chars[start ..< start + length] {
            guard (48 ... 57).contains(char) else { return nil }
            value = value * 10 + Int(char - 48)
        }
        return value
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Year, month and day of a day since 1970-01-01 (proleptic Gregorian).
    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (Int(yoe + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }
}
