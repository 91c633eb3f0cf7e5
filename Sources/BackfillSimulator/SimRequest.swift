import Foundation

/// A request as the simulator's handlers see it: method, path, decoded query items in order, lower-cased
/// header names, and the whole body.
struct SimRequest {
    var method: String
    var path: String
    var query: [(name: String, value: String)]
    var headers: [String: String]
    var body: Data

    init(method: String, path: String, rawQuery: String?, headers: [String: String], body: Data) {
        self.method = method.uppercased()
        self.path = path
        self.query = Self.parseQuery(rawQuery ?? "")
        self.headers = headers
        self.body = body
    }

    /// The first value of a query parameter; Graph's OData names also match without their `$`.
    func parameter(_ name: String) -> String? {
        query.first { $0.name == name || ($0.name.hasPrefix("$") == false && "$" + $0.name == name) }?.value
    }

    func parameters(_ name: String) -> [String] {
        query.filter { $0.name == name }.map(\.value)
    }

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The bearer token of the Authorization header.
    var bearerToken: String? {
        guard let value = header("authorization"), value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    /// `Prefer` values (comma separated, possibly over several headers joined by the server).
    var preferences: [String] {
        (header("prefer") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    var wantsImmutableIDs: Bool {
        preferences.contains { $0.replacingOccurrences(of: " ", with: "").lowercased() == "idtype=\"immutableid\"" }
    }

    var maxPageSizePreference: Int? {
        preferences.lazy.compactMap { value -> Int? in
            let parts = value.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "odata.maxpagesize" else { return nil }
            return Int(parts[1])
        }.first
    }

    /// Form fields of an `application/x-www-form-urlencoded` body.
    var formFields: [String: String] {
        var fields: [String: String] = [:]
        for item in Self.parseQuery(String(decoding: body, as: UTF8.self)) where fields[item.name] == nil {
            fields[item.name] = item.value
        }
        return fields
    }

    var jsonBody: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    static func parseQuery(_ raw: String) -> [(name: String, value: String)] {
        if let items = raw.utf8.withContiguousStorageIfAvailable(parseASCIIQuery), let items { return items }
        return parseQueryText(raw)
    }

    /// The same split and decoding over bytes, for queries that are all ASCII (all the clients send); nil for
    /// others, whose `+` may be part of a larger Character and which keep Foundation's handling.
    private static func parseASCIIQuery(_ bytes: UnsafeBufferPointer<UInt8>) -> [(name: String, value: String)]? {
        guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
        return bytes.split(separator: UInt8(ascii: "&")).map { pair in
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { return (decode(pair), "") }
            return (decode(pair[..<equals]), decode(pair[(equals + 1)...]))
        }
    }

    /// `+` is a space, then `%XX` escapes; a stray `%` leaves the escapes as they were (as `removingPercentEncoding`
    /// returning nil did). Escapes that are not UTF-8 go to Foundation, which mostly refuses them but not always
    /// (a lone `%A9` becomes U+FFFD).
    private static func decode(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        guard text.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else {
            return String(decoding: text, as: UTF8.self)
        }
        let spaced = text.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(spaced.count)
        var index = 0
        while index < spaced.count {
            guard spaced[index] == UInt8(ascii: "%") else {
                decoded.append(spaced[index])
                index += 1
                continue
            }
            guard index + 2 < spaced.count, let high = hexValue(spaced[index + 1]), let low = hexValue(spaced[index + 2])
            else { return String(decoding: spaced, as: UTF8.self) }
            decoded.append(high << 4 | low)
            index += 3
        }
        if let text = String(validating: decoded, as: UTF8.self) { return text }
        let text = String(decoding: spaced, as: UTF8.self)
        return text.removingPercentEncoding ?? text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func parseQueryText(_ raw: String) -> [(name: String, value: String)] {
        raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Percent-encodes a query value the way Graph writes its links (`$` as `%24`, space as `+`).
    static func encodeQueryComponent(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text)
            .replacingOccurrences(of: "%20", with: "+")
    }
}

/// A response before it becomes a Hummingbird one.
struct SimResponse {
    var status: Int
    var headers: [(String, String)]
    var body: Data

    init(status: Int, headers: [(String, String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> SimResponse {
        SimResponse(status: status, headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
                    body: Data(text.utf8))
    }

    static func json(_ status: Int, object: Any, headers: [(String, String)] = []) -> SimResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return SimResponse(status: status, headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
                           body: data)
    }

    static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> SimResponse {
        SimResponse(status: status, headers: [("Content-Type", contentType)], body: Data(text.utf8))
    }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A refusal (401, 403, 429, ...) travels as the failure of a `Result` until it is sent.
extension SimResponse: Error {}
