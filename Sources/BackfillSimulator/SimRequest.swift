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
