import BackfillCore
import BackfillHTTP
import Foundation

/// The multipart/mixed bodies of Gmail's batch endpoint (docs/providers.md, Gmail batch): a request of inner
/// `GET`s, each a part `Content-Type: application/http` with a `Content-ID`, path only; a reply of inner HTTP
/// responses, one part each, named `Content-ID: <response-…>`. The outer reply is 200 whatever the parts say.
enum GmailBatchBody {
    /// The request body for `paths` (each starting with `/gmail/v1/`), parts named `item-0`, `item-1`, …
    static func request(paths: [String], boundary: String) -> Data {
        var text = ""
        text.reserveCapacity(paths.count * 200)
        for (index, path) in paths.enumerated() {
            text += "--\(boundary)\r\nContent-Type: application/http\r\nContent-ID: <item-\(index)>\r\n\r\nGET \(path)\r\n\r\n"
        }
        text += "--\(boundary)--\r\n"
        return Data(text.utf8)
    }

    /// The inner responses of a batch reply of `count` parts, in request order (by `Content-ID`, or by place
    /// when the ids are missing). Throws when the reply is not a readable multipart body of exactly those parts.
    static func responses(of reply: HTTPResponse, count: Int) throws(GmailBatchBodyError) -> [HTTPResponse] {
        guard let contentType = reply.headers["Content-Type"], let boundary = boundary(contentType) else {
            throw GmailBatchBodyError("the reply is not multipart/mixed with a boundary")
        }
        let bytes = [UInt8](reply.body)
        let delimiter = Array("--\(boundary)".utf8)
        var starts = ranges(of: delimiter, in: bytes)
        guard starts.count >= 2 else { throw GmailBatchBodyError("the reply has no parts") }
        var byPlace: [HTTPResponse] = []
        var byId: [Int: HTTPResponse] = [:]
        let last = starts.removeLast()
        for (index, start) in starts.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1] : last
            var part = Array(bytes[(start + delimiter.count)..<end])
            trimLineBreaks(&part)
            let (outerHeaders, inner) = try split(part)
            let (statusLine, innerHeaders, body) = try splitResponse(inner)
            let response = HTTPResponse(status: statusLine, headers: innerHeaders, body: Data(body))
            if let id = outerHeaders["Content-ID"].flatMap(itemNumber) {
                byId[id] = response
            }
            byPlace.append(response)
        }
        guard byPlace.count == count else {
            throw GmailBatchBodyError("the reply has \(byPlace.count) parts for \(count) requests")
        }
        if byId.count == count, (0..<count).allSatisfy({ byId[$0] != nil }) {
            return (0..<count).map { byId[$0]! }
        }
        return byPlace
    }

    // MARK: Private

    private static func boundary(_ contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/mixed") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary", !pair[1].isEmpty {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// `<response-item-7>` → 7.
    private static func itemNumber(_ contentId: String) -> Int? {
        let trimmed = contentId.trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
        guard let dash = trimmed.lastIndex(of: "-") else { return nil }
        return Int(trimmed[trimmed.index(after: dash)...])
    }

    /// Offsets where `needle` starts at the beginning of a line.
    private static func ranges(of needle: [UInt8], in bytes: [UInt8]) -> [Int] {
        guard let first = needle.first, bytes.count >= needle.count else { return [] }
        var found: [Int] = []
        var index = 0
        let limit = bytes.count - needle.count
        while index <= limit {
            if bytes[index] == first, index == 0 || bytes[index - 1] == 0x0A,
               bytes[index..<(index + needle.count)].elementsEqual(needle)
            {
                found.append(index)
                index += needle.count
            } else {
                index += 1
            }
        }
        return found
    }

    private static func trimLineBreaks(_ part: inout [UInt8]) {
        while let first = part.first, first == 0x0D || first == 0x0A { part.removeFirst() }
        while let last = part.last, last == 0x0D || last == 0x0A { part.removeLast() }
    }

    /// Headers up to the first blank line, and what follows it.
    private static func split(_ bytes: [UInt8]) throws(GmailBatchBodyError) -> (HTTPHeaders, ArraySlice<UInt8>) {
        var headers = HTTPHeaders()
        var lineStart = 0
        var index = 0
        while index < bytes.count {
            guard bytes[index] == 0x0A else {
                index += 1
                continue
            }
            var lineEnd = index
            if lineEnd > lineStart, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd == lineStart { return (headers, bytes[(index + 1)...]) }
            let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
            guard let colon = line.firstIndex(of: ":") else { throw GmailBatchBodyError("a part has a malformed header line") }
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            index += 1
            lineStart = index
        }
        throw GmailBatchBodyError("a part has no blank line after its headers")
    }

    /// An inner `HTTP/1.1 200 OK` response: status, headers, body.
    private static func splitResponse(
        _ bytes: ArraySlice<UInt8>
    ) throws(GmailBatchBodyError) -> (Int, HTTPHeaders, ArraySlice<UInt8>) {
        let array = Array(bytes)
        // A response without headers or body ends with its status line (the part's line breaks are trimmed).
        let newline = array.firstIndex(of: 0x0A) ?? array.count
        let statusLine = String(decoding: array[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let words = statusLine.split(separator: " ")
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), let status = Int(words[1]), (100...599).contains(status) else {
            throw GmailBatchBodyError("a part's status line is not HTTP")
        }
        let rest = newline < array.count ? Array(array[(newline + 1)...]) : []
        if rest.allSatisfy({ $0 == 0x0D || $0 == 0x0A }) { return (status, HTTPHeaders(), []) }
        let (headers, body) = try split(rest)
        return (status, headers, body)
    }
}

/// A batch reply that cannot be read as the parts asked for.
struct GmailBatchBodyError: Error, Sendable {
    let detail: String
    init(_ detail: String) { self.detail = detail }
}
