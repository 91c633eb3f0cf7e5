import Foundation
import Logging

/// An HTTP/1.1 and HTTP/2 client over libcurl.
///
/// Every transfer of one client runs on one dedicated thread through curl's multi interface, so thousands
/// can be in flight without a thread each and without blocking Swift's cooperative pool. Connections are
/// kept and reused. TLS certificates are verified unless the configuration says otherwise.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        /// The most connections open at once to one host (0: no limit); further transfers wait for one.
        public var maxConnectionsPerHost: Int
        /// The most idle connections kept open for reuse.
        public var maxCachedConnections: Int
        /// Redirects followed per request; 0 returns the 3xx response itself.
        public var maxRedirects: Int
        /// Whether the server's certificate and host name are checked. Turn off only for tests.
        public var verifyTLS: Bool = true

        public init(
            maxConnectionsPerHost: Int = 256,
            maxCachedConnections: Int = 256,
            maxRedirects: Int = 5,
            verifyTLS: Bool = true
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxCachedConnections = maxCachedConnections
            self.maxRedirects = maxRedirects
            self.verifyTLS = verifyTLS
        }
    }

    private let loop: CurlMultiLoop

    /// Starts the client's curl thread.
    public init(configuration: Configuration = .init(), logger: Logger = Logger(label: "backfill.http")) {
        loop = CurlMultiLoop(configuration: configuration, logger: logger)
    }

    deinit {
        loop.requestStop()
    }

    /// Sends `request` and returns the response, whatever its status. Throws `HTTPClientError` when no
    /// response arrives; when the calling task is cancelled, the transfer stops and the code is `.cancelled`.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try RequestValidation.check(request)
        let ticket = TransferTicket(request: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                ticket.attach(continuation)
                loop.start(ticket)
            }
        } onCancel: {
            loop.cancel(ticket)
        }
    }

    /// Stops the curl thread: transfers still pending fail with `.cancelled`, later sends too.
    public func shutdown() async {
        await loop.stop()
    }
}
