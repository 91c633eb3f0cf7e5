/// Why a request failed. The message comes from curl (or names the bad part of the request); it never holds
/// the request's headers or body, which may carry tokens.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// What failed. A struct over a private enum so new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String {
            case invalidURL, invalidRequest, resolve, connect, timeout, tls, send, receive, tooManyRedirects
            case cancelled, other
        }

        private let kind: Kind

        private init(_ kind: Kind) {
            self.kind = kind
        }

        /// The URL is malformed or its scheme is not http or https.
        public static let invalidURL = Code(.invalidURL)
        /// The method or a header is not valid HTTP (e.g. a line break in a value).
        public static let invalidRequest = Code(.invalidRequest)
        /// The host name could not be resolved.
        public static let resolve = Code(.resolve)
        /// The server could not be reached (refused, unreachable).
        public static let connect = Code(.connect)
        /// The connect or total timeout ran out.
        public static let timeout = Code(.timeout)
        /// The TLS handshake or the certificate verification failed.
        public static let tls = Code(.tls)
        /// Sending the request failed.
        public static let send = Code(.send)
        /// Receiving the response failed, or it was not valid HTTP.
        public static let receive = Code(.receive)
        /// The server redirected more often than the client follows.
        public static let tooManyRedirects = Code(.tooManyRedirects)
        /// The calling task was cancelled or the client was shut down.
        public static let cancelled = Code(.cancelled)
        /// Anything else curl reports.
        public static let other = Code(.other)

        public var description: String { kind.rawValue }
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        "HTTP request failed (\(code)): \(message)"
    }
}
