import Foundation

/// Recipient lists (`to`, `cc`) as stored: a JSON array of strings, so any address or display name
/// survives and SQLite's JSON functions can look inside.
public enum RecipientList {
    private static let empty = "[]"

    /// Writes the JSON by hand: `JSONEncoder` took about 40% of the insert path's own time in
    /// ops/bench/store, and an array of strings needs only RFC 8259 string escaping.
    public static func encode(_ recipients: [String]) -> String {
        if recipients.isEmpty { return empty }
        var json = "["
        for (index, recipient) in recipients.enumerated() {
            if index > 0 { json += "," }
            appendQuoted(recipient, to: &json)
        }
        json += "]"
        return json
    }

    public static func decode(_ text: String, with decoder: JSONDecoder) throws -> [String] {
        if text == empty { return [] }
        return try decoder.decode([String].self, from: Data(text.utf8))
    }

    private static func appendQuoted(_ text: String, to json: inout String) {
        json += "\""
        // Quote, backslash and control characters are escaped; everything else is kept as it is.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            json += text
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": json += "\\\""
                case "\\": json += "\\\\"
                case "\n": json += "\\n"
                case "\r": json += "\\r"
                case "\t": json += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: json.unicodeScalars.append(scalar)
                }
            }
        }
        json += "\""
    }
}
