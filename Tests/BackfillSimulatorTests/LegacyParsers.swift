@testable import BackfillSimulator
import Foundation

/// The simulator's parsers and date format as they were before they were rewritten over bytes, kept verbatim
/// (Foundation string work) so the fast versions can be compared with them on many inputs.
enum LegacyParsers {
    static func rfc2822(_ seconds: Int64, formatter: DateFormatter = rfc2822Formatter()) -> String {
        formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    static func rfc2822Formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, d MMM yyyy HH:mm:ss +0000"
        return formatter
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

    /// The batch parser, as snapshots; it trapped on a target made only of `?`, so callers avoid those.
    static func parseBatch(_ body: Data, boundary: String, headers outer: [String: String]) -> [BatchPartSnapshot]? {
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var parts: [BatchPartSnapshot] = []
        for chunk in text.components(separatedBy: "--\(boundary)").dropFirst() {
            if chunk.hasPrefix("--") { break }
            let sections = chunk.trimmingCharacters(in: .newlines).components(separatedBy: "\n\n")
            guard sections.count >= 2 else { return nil }
            let outerHeaders = headers(sections[0].split(separator: "\n").map(String.init))
            var lines = sections[1].split(separator: "\n").map(String.init)
            guard !lines.isEmpty else { return nil }
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return nil }
            var headers = outer.filter { !$0.key.hasPrefix("content-") }
            headers.merge(Self.headers(lines)) { _, part in part }
            let target = String(requestLine[1])
            let pathAndQuery = target.split(separator: "?", maxSplits: 1).map(String.init)
            var segments = pathAndQuery[0].split(separator: "/").map(String.init)
            if segments.first == "gmail", segments.dropFirst().first == "gmail" { segments.removeFirst() }
            guard segments.count >= 5, segments[0] == "gmail", segments[1] == "v1", segments[2] == "users" else { return nil }
            let body = sections.count > 2 ? sections[2...].joined(separator: "\n\n") : ""
            let sub = SimRequest(method: String(requestLine[0]), path: "/" + segments.joined(separator: "/"),
                                 rawQuery: pathAndQuery.count > 1 ? pathAndQuery[1] : nil, headers: headers,
                                 body: Data(body.utf8))
            let contentID = outerHeaders["content-id"].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")) }
            parts.append(BatchPartSnapshot(contentID: contentID, request: sub, userID: segments[3],
                                           rest: Array(segments.dropFirst(4))))
        }
        return parts
    }

    private static func headers(_ lines: [String]) -> [String: String] {
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }
}
