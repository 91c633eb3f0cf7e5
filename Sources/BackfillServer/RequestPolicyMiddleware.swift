import Hummingbird

/// Refuses what a browser page on another site could send this service, before any route runs:
///
/// - a `Host` this service does not answer to (DNS rebinding: a page on evil.example resolving to
///   127.0.0.1). With `allowedHosts` configured only those names pass; without them, a service that has
///   no API token answers loopback names only (`localhost`, `127.x.x.x`, `[::1]`), since anyone who can
///   make a browser talk to it would otherwise act with its full power.
/// - a cross-site request under `/v1`: an `Origin` (browsers send it on every cross-origin POST, even
///   `no-cors` ones without a body) that is not this service's own host.
/// - a `/v1` body that is not JSON: a cross-site form or `fetch` can send `text/plain` or form bodies
///   without a preflight, but never `application/json`, so 415 closes "simple" cross-site writes.
struct RequestPolicyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// Host names (without port, lower-cased) the service answers to; nil: see `loopbackOnly`.
    let allowedHosts: Set<String>?
    /// Without allowed hosts: answer loopback names only (the tokenless default).
    let loopbackOnly: Bool

    init(allowedHosts: [String], hasAPIToken: Bool) {
        self.allowedHosts = allowedHosts.isEmpty ? nil : Set(allowedHosts.map { $0.lowercased() })
        self.loopbackOnly = !hasAPIToken
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard accepts(host: host) else {
            throw APIError(.forbidden, code: "host_not_allowed",
                           message: "this service does not answer to the host '\(Self.hostName(host).prefix(80))'; "
                               + "use its loopback address, or set BACKFILL_ALLOWED_HOSTS (and an API token) to serve other names")
        }
        if request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" {
            if let origin = request.headers[.origin], !Self.isSameOrigin(origin, host: host) {
                throw APIError(.forbidden, code: "cross_origin",
                               message: "cross-site requests are refused; call the API from the console's own origin or without an Origin header")
            }
            if request.method == .post || request.method == .put || request.method == .patch, Self.hasBody(request),
               !Self.isJSON(request.headers[.contentType]) {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               message: "send the body as JSON with Content-Type: application/json")
            }
        }
        return try await next(request, context)
    }

    func accepts(host: String) -> Bool {
        let name = Self.hostName(host)
        if let allowedHosts { return allowedHosts.contains(name) || Self.isLoopbackName(name) }
        return !loopbackOnly || Self.isLoopbackName(name)
    }

    /// The host without its port or IPv6 brackets, lower-cased.
    static func hostName(_ host: String) -> String {
        var text = host.lowercased()
        if text.hasPrefix("[") {
            if let close = text.firstIndex(of: "]") { text = String(text[text.index(after: text.startIndex)..<close]) }
            return text
        }
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon { text = String(text[..<colon]) }
        return text
    }

    static func isLoopbackName(_ name: String) -> Bool {
        if name == "localhost" || name == "::1" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// `Origin` is `scheme://host[:port]`; same origin when its authority is the request's `Host`.
    static func isSameOrigin(_ origin: String, host: String) -> Bool {
        guard let separator = origin.range(of: "://") else { return false }
        let authority = origin[separator.upperBound...].lowercased()
        let hostLower = host.lowercased()
        if authority == hostLower { return true }
        // Default ports may be left out on one side.
        for suffix in [":80", ":443"] where authority + suffix == hostLower || hostLower + suffix == authority { return true }
        return false
    }

    static func hasBody(_ request: Request) -> Bool {
        if let length = request.headers[.contentLength].flatMap(Int.init) { return length > 0 }
        return request.headers[.transferEncoding] != nil
    }

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return mediaType == "application/json"
    }
}
