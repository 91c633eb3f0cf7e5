import Foundation

/// Graph's DateTimeOffset values: unquoted ISO 8601 in filters, UTC with or without fractional seconds
/// in responses.
enum GraphDate {
    private static let plain = Date.ISO8601FormatStyle()
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Whole seconds print without a fraction, so filters read like Graph's own examples.
    static func format(_ date: Date) -> String {
        date.timeIntervalSince1970.rounded() == date.timeIntervalSince1970 ? plain.format(date) : fractional.format(date)
    }

    static func parse(_ text: String) -> Date? {
        (try? plain.parse(text)) ?? (try? fractional.parse(text))
    }
}
