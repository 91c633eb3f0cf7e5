import Foundation
import Hummingbird
import Logging

/// A Hummingbird server on a free loopback port with the routes the HTTP client tests talk to.
///
/// Kept in its own file so the tests' files see BackfillHTTP's `HTTPRequest` and `HTTPResponse`, not the
/// HTTPTypes ones Hummingbird exports.
struct TestServer: Sendable {
    /// "http://127.0.0.1:PORT".
    let baseURL: String
    /// One element each time a request reaches `/slow`, before the server starts waiting.
    let slowRequestArrivals: AsyncStream<Void>

    /// Runs `body` against a fresh server, then stops the server.
    static func with<T: Sendable>(_ body: @Sendable (TestServer) async throws -> T) async throws -> T {
        let (arrivals, arrivalContinuation) = AsyncStream<Void>.makeStream()
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "backfill.http.test-server")
        // Stopping the server by cancellation logs an error for every open connection; that is expected.
        logger.logLevel = .critical
        let app = Application(
            router: makeRouter(onSlowRequest: { arrivalContinuation.yield() }),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { portContinuation.yield(port) }
                portContinuation.finish()
            },
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var portIterator = ports.makeAsyncIterator()
            guard let port = await portIterator.next() else {
                throw TestServerError.didNotStart
            }
            defer { group.cancelAll() }
            return try await body(TestServer(baseURL: "http://127.0.0.1:\(port)", slowRequestArrivals: arrivals))
        }
    }

    private static func makeRouter(onSlowRequest: @escaping @Sendable () -> Void) -> Router<PeerRequestContext> {
        let router = Router(context: PeerRequestContext.self)
        router.get("/hello") { _, _ in "hello" }

        // The client's port, which tells which connection carried the request.
        router.get("/peer") { _, context in "\(context.peerPort)" }

        // Reports the request's headers back and sends a repeated header and mixed-case names.
        router.get("/headers") { request, _ -> Response in
            let repeated = request.headers[values: .init("X-Repeat")!]
            var headers = HTTPFields()
            headers.append(.init(name: .init("X-Echo-Token")!, value: request.headers[.init("x-token")!] ?? ""))
            headers.append(.init(name: .init("X-Repeat-Count")!, value: "\(repeated.count)"))
            headers.append(.init(name: .init("X-Repeat-Values")!, value: repeated.joined(separator: ",")))
            headers.append(.init(name: .init("X-Multi")!, value: "one"))
            headers.append(.init(name: .init("X-Multi")!, value: "two"))
            return Response(status: .ok, headers: headers)
        }

        // Answers with the status in the path; 429 and 503 say when to come back.
        router.get("/status/{code}") { _, context -> Response in
            let code = try context.parameters.require("code", as: Int.self)
            var headers = HTTPFields()
            if code == 429 { headers[.retryAfter] = "7" }
            if code == 503 { headers[.retryAfter] = "120" }
            return Response(status: .init(code: code), headers: headers)
        }

        // Echoes the body with its content type; the method comes back in X-Method.
        let echo: @Sendable (Request, PeerRequestContext) async throws -> Response = { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            var headers = HTTPFields()
            headers.append(.init(name: .init("X-Method")!, value: request.method.rawValue))
            headers.append(.init(name: .init("X-Content-Type")!, value: request.headers[.contentType] ?? "none"))
            if let contentType = request.headers[.contentType] { headers[.contentType] = contentType }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        router.post("/echo", use: echo)
        router.put("/echo", use: echo)
        router.patch("/echo", use: echo)
        router.delete("/echo", use: echo)

        // A redirect that is followed to /hello, and one that never ends.
        router.get("/redirect") { _, _ in Response(status: .found, headers: [.location: "/hello"]) }
        router.get("/redirect-loop") { _, _ in Response(status: .found, headers: [.location: "/redirect-loop"]) }

        // `count` bytes of a fixed pattern (see `TestServer.patternBytes`).
        router.get("/bytes/{count}") { _, context -> Response in
            let count = try context.parameters.require("count", as: Int.self)
            let body = ByteBuffer(bytes: patternBytes(count: count))
            return Response(status: .ok, body: .init(byteBuffer: body))
        }

        // Answers with the client's port after `ms` milliseconds.
        router.get("/slow") { request, context -> String in
            onSlowRequest()
            let milliseconds = request.uri.queryParameters.get("ms", as: Int.self) ?? 500
            try await Task.sleep(for: .milliseconds(milliseconds))
            return "\(context.peerPort)"
        }
        return router
    }

    /// The bytes `/bytes/{count}` answers with: a pattern whose period (251) does not divide buffer sizes.
    static func patternBytes(count: Int) -> [UInt8] {
        (0 ..< count).map { UInt8($0 % 251) }
    }
}

/// The request context, with the client's port.
struct PeerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peerPort: Int

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerPort = source.channel.remoteAddress?.port ?? 0
    }
}

enum TestServerError: Error {
    case didNotStart
}
