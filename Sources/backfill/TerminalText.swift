/// Text from the service made safe for a terminal: control characters (C0, DEL, C1: escape sequences,
/// carriage returns, NUL) are shown as `\u{1B}` and the like instead of acting on the terminal. The
/// service refuses them in addresses, but a CLI must not trust what it prints.
enum TerminalText {
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control
    }
}
