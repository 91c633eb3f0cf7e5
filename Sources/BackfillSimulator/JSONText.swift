import Foundation

/// A JSON document written by hand: the hot paths (message pages) build their bodies with this instead of
/// an encoder, which keeps the simulator fast enough not to be what a benchmark measures.
struct JSONText {
    private(set) var text = ""
    private var needsComma = [false]

    init(capacity: Int = 256) {
        text.reserveCapacity(capacity)
    }

    mutating func beginObject(_ key: String? = nil) { open(key, "{") }
    mutating func endObject() { close("}") }
    mutating func beginArray(_ key: String? = nil) { open(key, "[") }
    mutating func endArray() { close("]") }

    mutating func string(_ key: String?, _ value: String?) {
        separate(key)
        if let value { Self.quote(value, into: &text) } else { text += "null" }
    }

    mutating func number(_ key: String?, _ value: Int) {
        separate(key)
        text += String(value)
    }

    mutating func number(_ key: String?, _ value: UInt64) {
        separate(key)
        text += String(value)
    }

    mutating func bool(_ key: String?, _ value: Bool) {
        separate(key)
        text += value ? "true" : "false"
    }

    /// Inserts an already-encoded JSON value.
    mutating func raw(_ key: String?, _ json: String) {
        separate(key)
        text += json
    }

    private mutating func open(_ key: String?, _ bracket: String) {
        separate(key)
        text += bracket
        needsComma.append(false)
    }

    private mutating func close(_ bracket: String) {
        needsComma.removeLast()
        text += bracket
    }

    private mutating func separate(_ key: String?) {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
        if let key {
            Self.quote(key, into: &text)
            text += ":"
        }
    }

    static func quote(_ value: String, into text: inout String) {
        text += "\""
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            text += value
            text += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
