import Foundation

/// Times as the store keeps them: integer milliseconds since 1970 (UTC). Providers give seconds (Graph) or
/// milliseconds (Gmail), so nothing they send is lost; finer parts of a `Date` are rounded away.
public enum StoreTime {
    /// Dates further than this from 1970 (about 3,000 years) are refused as bad input.
    public static let maximumSecondsFrom1970 = 1e11

    public static func isStorable(_ date: Date) -> Bool {
        date.timeIntervalSince1970.magnitude < maximumSecondsFrom1970
    }

    /// Only for dates that pass `isStorable` (any other could not be converted).
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
