import Foundation

/// One HTTP request: what to send and how long to wait for it.
public struct HTTPRequest: Sendable {
    /// The method token: "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", ...
    public var method: String
    /// An absolute `http` or `https` URL.
    public var url: String
    public var headers: HTTPHeaders
    /// The request body; nil sends none. A body without a `Content-Type` header is sent without one.
    public var body: Data?
    /// The longest wait for the connection (TCP and TLS) to be established.
    public var connectTimeout: Duration
    /// The longest the whole transfer may take, connecting and any redirects included.
    public var totalTimeout: Duration

    public init(
        method: String = "GET",
        url: String,
        headers: HTTPHeaders = [:],
        body: Data? = nil,
        connectTimeout: Duration = .seconds(5),
        totalTimeout: Duration = .seconds(60)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
    }
}
