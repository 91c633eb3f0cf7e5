import Foundation

/// The Gmail batch endpoint (docs/providers.md, Gmail batch): a multipart/mixed body of up to 100 HTTP requests, each
/// admitted, charged and limited on its own while all are in flight together, answered in order.
struct GmailBatch {
    let engine: SimulatorEngine

    /// One request of a batch; internal so tests can pin the parser.
    struct Part {
        let contentID: String?
        let request: SimRequest
        let userID: String
        let rest: [String]
    }

    func respond(_ request: SimRequest) async -> SimResponse {
        guard request.method == "POST", let contentType = request.header("content-type"),
              let boundary = Self.boundary(contentType)
        else { return GmailErrors.invalidArgument("Batch requests need a multipart/mixed body with a boundary") }
        guard let parts = Self.parse(request.body, boundary: boundary, headers: request.headers) else {
            return GmailErrors.invalidArgument("Invalid batch part")
        }
        let maxParts = engine.world.withLock { $0.knobs.gmailBatchMaxParts }
        guard !parts.isEmpty, parts.count <= maxParts else {
            return GmailErrors.invalidArgument("Too many requests in batch (limit \(maxParts))")
        }
        // All parts are admitted first: they run concurrently, so big batches trip the concurrency cap.
        var admitted: [Result<(SimulatorWorld.Call, Int), SimResponse>] = []
        var arrival: Date?? = nil
        for part in parts {
            admitted.append(engine.admitGmail(part.request, userID: part.userID, rest: part.rest, batchArrival: &arrival))
        }
        let latency = admitted.compactMap { try? $0.get().1 }.max() ?? 0
        await engine.sleep(milliseconds: latency)
        var responses: [SimResponse] = []
        for (part, admission) in zip(parts, admitted) {
            switch admission {
            case let .success((call, _)): responses.append(engine.completeGmail(call, request: part.request, rest: part.rest))
            case let .failure(refusal): responses.append(refusal)
            }
        }
        let outer = "batch_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16)
        var body = ""
        for (part, response) in zip(parts, responses) {
            body += "--\(outer)\r\nContent-Type: application/http\r\n"
            if let id = part.contentID { body += "Content-ID: <response-\(id)>\r\n" }
            body += "\r\nHTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
            for (name, value) in response.headers { body += "\(name): \(value)\r\n" }
            body += "\r\n" + String(decoding: response.body, as: UTF8.self) + "\r\n"
        }
        body += "--\(outer)--\r\n"
        return SimResponse(status: 200, headers: [("Content-Type", "multipart/mixed; boundary=\(outer)")],
                           body: Data(body.utf8))
    }

    private static func boundary(_ contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/mixed") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The parts of a batch body; `headers` are the outer request's, which every part inherits but for `content-*`.
    /// A part's headers and request are separated by a blank line, its request and body by the next one.
    static func parse(_ body: Data, boundary: String, headers outer: [String: String]) -> [Part]? {
        let delimiter = Array("--\(boundary)".utf8)
        // Bytes are only the same as Characters for ASCII with every CR before an LF (CR LF is one Character);
        // other bodies keep the String parser.
        guard delimiter.allSatisfy({ $0 < 0x80 && $0 != 13 }), let text = plainLines(body) else {
            return parseText(body, boundary: boundary, headers: outer)
        }
        var parts: [Part] = []
        let chunks = split(text[...], at: delimiter)
        for chunk in chunks.dropFirst() {
            if chunk.starts(with: [45, 45]) { break } // "--": the closing delimiter
            let part = trimmed(chunk) { (10 ... 13).contains($0) }
            let sections = split(part, at: [10, 10], limit: 2)
            guard sections.count >= 2 else { return nil }
            let outerHeaders = Self.headers(sections[0].split(separator: 10))
            let lines = sections[1].split(separator: 10)
            guard let first = lines.first else { return nil }
            let requestLine = first.split(separator: 32)
            guard requestLine.count >= 2 else { return nil }
            var headers = outer.filter { !$0.key.hasPrefix("content-") }
            headers.merge(Self.headers(lines.dropFirst())) { _, part in part }
            // A target of only `?` has no path; the String parser trapped on it.
            let pathAndQuery = requestLine[1].split(separator: 63, maxSplits: 1)
            guard let path = pathAndQuery.first else { return nil }
            var segments = path.split(separator: 47).map { String(decoding: $0, as: UTF8.self) }
            if segments.first == "gmail", segments.dropFirst().first == "gmail" { segments.removeFirst() }
            guard segments.count >= 5, segments[0] == "gmail", segments[1] == "v1", segments[2] == "users" else { return nil }
            let sub = SimRequest(method: String(decoding: requestLine[0], as: UTF8.self),
                                 path: "/" + segments.joined(separator: "/"),
                                 rawQuery: pathAndQuery.count > 1 ? String(decoding: pathAndQuery[1], as: UTF8.self) : nil,
                                 headers: headers, body: sections.count > 2 ? Data(sections[2]) : Data())
            let contentID = outerHeaders["content-id"].map {
                String(decoding: trimmed(Array($0.utf8)[...]) { $0 == 60 || $0 == 62 }, as: UTF8.self) // "<", ">"
            }
            parts.append(Part(contentID: contentID, request: sub, userID: segments[3], rest: Array(segments.dropFirst(4))))
        }
        return parts
    }

    /// The body without its CRs, or nil if it is not ASCII or has a CR that is not before an LF.
    private static func plainLines(_ body: Data) -> [UInt8]? {
        body.withUnsafeBytes { raw -> [UInt8]? in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(raw.count)
            for index in raw.indices {
                let byte = raw[index]
                if byte == 13 {
                    guard index + 1 < raw.count, raw[index + 1] == 10 else { return nil }
                    continue
                }
                guard byte < 0x80 else { return nil }
                bytes.append(byte)
            }
            return bytes
        }
    }

    /// Pieces between non-overlapping occurrences of `separator`, left to right, as `components(separatedBy:)`;
    /// after `limit` separators the rest is one piece.
    private static func split(_ bytes: ArraySlice<UInt8>, at separator: [UInt8], limit: Int = .max) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex, index = bytes.startIndex
        while index + separator.count <= bytes.endIndex, pieces.count < limit {
            if bytes[index] == separator[0], bytes[index ..< index + separator.count].elementsEqual(separator) {
                pieces.append(bytes[start ..< index])
                index += separator.count
                start = index
            } else {
                index += 1
            }
        }
        pieces.append(bytes[start...])
        return pieces
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>, _ trim: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !trim($0) }), let last = bytes.lastIndex(where: { !trim($0) })
        else { return [] }
        return bytes[first ... last]
    }

    /// Header lines as lower-cased names and values trimmed of spaces and tabs; lines without a colon are skipped.
    private static func headers(_ lines: some Sequence<ArraySlice<UInt8>>) -> [String: String] {
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: 58) else { continue }
            let name = line[..<colon].map { (65 ... 90).contains($0) ? $0 + 32 : $0 }
            let value = trimmed(line[(colon + 1)...]) { $0 == 32 || $0 == 9 }
            headers[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
        }
        return headers
    }

    /// The String parser, for bodies that are not plain ASCII lines: Foundation's Character-level splitting
    /// decides where their parts and lines end.
    private static func parseText(_ body: Data, boundary: String, headers outer: [String: String]) -> [Part]? {
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var parts: [Part] = []
        for chunk in text.components(separatedBy: "--\(boundary)").dropFirst() {
            if chunk.hasPrefix("--") { break }
            let sections = chunk.trimmingCharacters(in: .newlines).components(separatedBy: "\n\n")
            guard sections.count >= 2 else { return nil }
            let outerHeaders = Self.textHeaders(sections[0].split(separator: "\n").map(String.init))
            var lines = sections[1].split(separator: "\n").map(String.init)
            guard !lines.isEmpty else { return nil }
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return nil }
            var headers = outer.filter { !$0.key.hasPrefix("content-") }
            headers.merge(Self.textHeaders(lines)) { _, part in part }
            let target = String(requestLine[1])
            let pathAndQuery = target.split(separator: "?", maxSplits: 1).map(String.init)
            guard !pathAndQuery.isEmpty else { return nil }
            var segments = pathAndQuery[0].split(separator: "/").map(String.init)
            if segments.first == "gmail", segments.dropFirst().first == "gmail" { segments.removeFirst() }
            guard segments.count >= 5, segments[0] == "gmail", segments[1] == "v1", segments[2] == "users" else { return nil }
            let body = sections.count > 2 ? sections[2...].joined(separator: "\n\n") : ""
            let sub = SimRequest(method: String(requestLine[0]), path: "/" + segments.joined(separator: "/"),
                                 rawQuery: pathAndQuery.count > 1 ? pathAndQuery[1] : nil, headers: headers,
                                 body: Data(body.utf8))
            let contentID = outerHeaders["content-id"].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")) }
            parts.append(Part(contentID: contentID, request: sub, userID: segments[3], rest: Array(segments.dropFirst(4))))
        }
        return parts
    }

    private static func textHeaders(_ lines: [String]) -> [String: String] {
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
