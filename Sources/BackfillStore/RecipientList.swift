import Foundation

/// Recipient lists (`to`, `cc`) as stored: a JSON array of strings, so any address or display name
/// survives and SQLite's JSON functions can look inside.
enum RecipientList {
    private static let empty = "[]"

    static func encode(_ recipients: [String], with encoder: JSONEncoder) throws -> String {
        if recipients.isEmpty { return empty }
        return String(decoding: try encoder.encode(recipients), as: UTF8.self)
    }

    static func decode(_ text: String, with decoder: JSONDecoder) throws -> [String] {
        if text == empty { return [] }
        return try decoder.decode([String].self, from: Data(text.utf8))
    }
}
