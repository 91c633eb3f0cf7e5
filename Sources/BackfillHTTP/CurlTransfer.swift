import CCurl
import Foundation

/// One transfer in flight on the curl thread: the easy handle configured for a ticket's request, and the
/// response as curl delivers it. Lives (and is only touched) on the curl thread until it finishes.
final class CurlTransfer {
    let ticket: TransferTicket
    let easy: CurlEasyHandle
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var responseHeaders = HTTPHeaders()
    private var body = Data()

    /// Content-Length beyond this is not trusted for reserving memory up front.
    private static let maxReservedBodyBytes = 64 << 20

    init(ticket: TransferTicket, easy: CurlEasyHandle, configuration: HTTPClient.Configuration) throws {
        self.ticket = ticket
        self.easy = easy
        try configure(configuration)
    }

    deinit {
        curl_slist_free_all(headerList)
    }

    /// The response received; call once curl reports the transfer done without error.
    func response() -> HTTPResponse {
        HTTPResponse(status: easy.responseCode(), headers: responseHeaders, body: body)
    }

    private func configure(_ configuration: HTTPClient.Configuration) throws {
        let request = ticket.request
        try easy.reset()
        try easy.set(CURLOPT_URL, request.url)
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // Signals cannot be used for timeouts in a multi-threaded process.
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(request.connectTimeout))
        try easy.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(request.totalTimeout))
        if !configuration.verifyTLS {
            try easy.set(CURLOPT_SSL_VERIFYPEER, 0)
            try easy.set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if configuration.maxRedirects > 0 {
            try easy.set(CURLOPT_FOLLOWLOCATION, 1)
            try easy.set(CURLOPT_MAXREDIRS, configuration.maxRedirects)
        }
        if !request.headers.contains("Accept-Encoding") {
            // Empty means every encoding curl can decode; the body is handed over decoded.
            try easy.set(CURLOPT_ACCEPT_ENCODING, "")
        }
        let body = try configureMethodAndBody(request)
        try configureHeaders(request.headers, hasBody: body != nil)

        let context = Unmanaged.passUnretained(self).toOpaque()
        try easy.set(CURLOPT_WRITEFUNCTION, callback: curlReceiveBody)
        try easy.set(CURLOPT_WRITEDATA, pointer: context)
        try easy.set(CURLOPT_HEADERFUNCTION, callback: curlReceiveHeaderLine)
        try easy.set(CURLOPT_HEADERDATA, pointer: context)
        try easy.set(CURLOPT_PRIVATE, pointer: context)
    }

    /// Sets the method and body; returns the body sent, if any. POST, PUT and PATCH always send one (empty
    /// when the request has none) so that the server sees `Content-Length: 0`.
    private func configureMethodAndBody(_ request: HTTPRequest) throws -> Data? {
        let body = request.body ?? (["POST", "PUT", "PATCH"].contains(request.method) ? Data() : nil)
        if let body {
            try easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.count))
            if body.isEmpty {
                try easy.set(CURLOPT_COPYPOSTFIELDS, "")
            } else {
                try body.withUnsafeBytes { bytes in
                    try easy.set(CURLOPT_COPYPOSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                }
            }
            if request.method != "POST" {
                try easy.set(CURLOPT_CUSTOMREQUEST, request.method)
            }
        } else if request.method == "HEAD" {
            try easy.set(CURLOPT_NOBODY, 1)
        } else if request.method != "GET" {
            try easy.set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        return body
    }

    private func configureHeaders(_ headers: HTTPHeaders, hasBody: Bool) throws {
        var lines = headers.map { field in
            // "Name:" would make curl drop the header; "Name;" is its syntax for an empty value.
            field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)"
        }
        if hasBody && !headers.contains("Content-Type") {
            lines.append("Content-Type:")  // curl would otherwise claim a form
        }
        if hasBody && !headers.contains("Expect") {
            lines.append("Expect:")  // no round trip waiting for "100 Continue" before large bodies
        }
        for line in lines {
            guard let appended = curl_slist_append(headerList, line) else {
                throw HTTPClientError(code: .other, message: "out of memory building the request headers")
            }
            headerList = appended
        }
        try easy.set(CURLOPT_HTTPHEADER, pointer: UnsafeMutableRawPointer(headerList))
    }

    fileprivate func receiveBody(_ bytes: UnsafeRawBufferPointer) {
        body.append(contentsOf: bytes)
    }

    /// Takes one raw header line. A status line starts a new response (after a redirect or a 100), whose
    /// headers replace those collected so far.
    fileprivate func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
        if line.hasPrefix("HTTP/") {
            responseHeaders = HTTPHeaders()
        } else if line.first == " " || line.first == "\t" {
            // An obsolete folded line continues the previous header's value.
            responseHeaders.extendLastValue(with: line.trimmingCharacters(in: .whitespaces))
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            responseHeaders.add(name, value)
            if HTTPHeaders.namesMatch(name, "Content-Length"), let length = Int(value) {
                body.reserveCapacity(min(length, Self.maxReservedBodyBytes))
            }
        }
    }

    /// Milliseconds for a curl timeout, at least 1 (0 would mean "no timeout" to curl).
    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = seconds.multipliedReportingOverflow(by: 1000)
        guard !total.overflow else { return Int.max }
        return max(1, Int(total.partialValue + attoseconds / 1_000_000_000_000_000))
    }
}

private let curlReceiveBody: CurlDataCallback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private let curlReceiveHeaderLine: CurlDataCallback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}
