import Foundation

/// The history range a user picks when a mailbox is connected.
public enum BackfillRange: String, Sendable, Codable, CaseIterable {
    case last30Days = "30d"
    case last90Days = "90d"
    case last12Months = "12m"
    case everything = "all"
    /// No history: real-time only. Creates no backfill.
    case skip

    /// The range the picker recommends.
    public static let recommended = BackfillRange.last90Days

    /// Parses the API's spelling, with an error that lists what is accepted.
    public init(parsing text: String) throws(InputError) {
        guard let range = BackfillRange(rawValue: text) else {
            throw InputError(
                code: "unknown_range",
                message: "unknown range '\(text.prefix(40))'; use one of 30d, 90d, 12m, all, skip"
            )
        }
        self = range
    }

    /// The window this range covers, pinned at `now` (the backfill's creation time). Nil for `skip`.
    public func window(pinnedAt now: Date) -> DateWindow? {
        let calendar = Calendar.utc
        let start: Date?
        switch self {
        case .last30Days: start = calendar.date(byAdding: .day, value: -30, to: now)
        case .last90Days: start = calendar.date(byAdding: .day, value: -90, to: now)
        case .last12Months: start = calendar.date(byAdding: .month, value: -12, to: now)
        case .everything: start = DateWindow.beginningOfMail
        case .skip: return nil
        }
        return DateWindow(start: start ?? DateWindow.beginningOfMail, end: now)
    }

    /// Words for the user: "last 90 days".
    public var phrase: String {
        switch self {
        case .last30Days: "last 30 days"
        case .last90Days: "last 90 days"
        case .last12Months: "last 12 months"
        case .everything: "all time"
        case .skip: "no history"
        }
    }
}

extension Calendar {
    /// Gregorian in UTC, so windows do not depend on the host's time zone.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
