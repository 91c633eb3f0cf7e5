import Foundation

/// Addresses out of an RFC 5322 address-list header ("Ada Park <ada@example.org>, bob@example.net").
enum EmailAddressList {
    static func parse(_ header: String) -> [String] {
        var addresses: [String] = []
        var current = ""
        var inQuotes = false
        var inAngle = false
        for character in header {
            switch character {
            case "\"" where !inAngle: inQuotes.toggle()
            case "<" where !inQuotes: inAngle = true
            case ">" where !inQuotes: inAngle = false
            case "," where !inQuotes && !inAngle:
                addresses.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        addresses.append(current)
        return addresses.compactMap(address(in:))
    }

    /// The `<...>` part when there is one, otherwise the trimmed text.
    private static func address(in mailbox: String) -> String? {
        let text: Substring
        if let open = mailbox.lastIndex(of: "<"), let close = mailbox[open...].firstIndex(of: ">") {
            text = mailbox[mailbox.index(after: open)..<close]
        } else {
            text = Substring(mailbox)
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.contains("@") ? trimmed : nil
    }
}
