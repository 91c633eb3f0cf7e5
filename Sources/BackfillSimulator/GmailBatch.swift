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
    static func parse(_ body: Data, boundary: String, headers outer: [String: String]) -> [Part]? {
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var parts: [Part] = []
        for chunk in text.components(separatedBy: "--\(boundary)").dropFirst() {
            if chunk.hasPrefix("--") { break }
            let sections = chunk.trimmingCharacters(in: .newlines).components(separatedBy: "\n\n")
            guard sections.count >= 2 else { return nil }
            let outerHeaders = Self.headers(sections[0].split(separator: "\n").map(String.init))
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
            parts.append(Part(contentID: contentID, request: sub, userID: segments[3], rest: Array(segments.dropFirst(4))))
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
