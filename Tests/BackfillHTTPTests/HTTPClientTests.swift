import BackfillHTTP
import Foundation
import Testing

@Suite("HTTP client over a real loopback server", .timeLimit(.minutes(1)))
struct HTTPClientTests {
    /// Runs `body` with a fresh server and client; shuts the client down afterwards.
    private func withClient<T: Sendable>(
        configuration: HTTPClient.Configuration = .init(),
        _ body: @Sendable (HTTPClient, TestServer) async throws -> T
    ) async throws -> T {
        try await TestServer.with { server in
            let client = HTTPClient(configuration: configuration)
            do {
                let result = try await body(client, server)
                await client.shutdown()
                return result
            } catch {
                await client.shutdown()
                throw error
            }
        }
    }

    private func expectFailure(
        _ code: HTTPClientError.Code, from send: () async throws -> HTTPResponse
    ) async -> HTTPClientError? {
        do {
            let response = try await send()
            Issue.record("expected \(code), got status \(response.status)")
            return nil
        } catch let error as HTTPClientError {
            #expect(error.code == code, "\(error)")
            return error
        } catch {
            Issue.record("expected HTTPClientError, got \(error)")
            return nil
        }
    }

    @Test("sends headers, repeated ones included, and reads response headers whatever their case")
    func headersBothWays() async throws {
        try await withClient { client, server in
            var headers: HTTPHeaders = ["X-Token": "abc123"]
            headers.add("X-Repeat", "first")
            headers.add("x-repeat", "second")
            let response = try await client.send(HTTPRequest(url: server.baseURL + "/headers", headers: headers))

            #expect(response.status == 200)
            #expect(response.headers["x-echo-token"] == "abc123")
            #expect(response.headers["X-ECHO-TOKEN"] == "abc123")
            #expect(response.headers["X-Repeat-Count"] == "2")
            #expect(response.headers["X-Repeat-Values"] == "first,second")
            #expect(response.headers.values("x-multi") == ["one", "two"])
            #expect(response.headers["X-Multi"] == "one")
            #expect(response.headers["X-Absent"] == nil)
        }
    }

    @Test(
        "returns the status the server answers, with Retry-After readable",
        arguments: [(200, nil), (404, nil), (429, "7"), (503, "120")] as [(Int, String?)]
    )
    func statuses(status: Int, retryAfter: String?) async throws {
        try await withClient { client, server in
            let response = try await client.send(HTTPRequest(url: server.baseURL + "/status/\(status)"))
            #expect(response.status == status)
            #expect(response.headers["retry-after"] == retryAfter)
        }
    }

    @Test("POSTs a JSON body that the server echoes back exactly")
    func postJSON() async throws {
        try await withClient { client, server in
            let json = Data(#"{"id":42,"subject":"Grüße","tags":["a","b"]}"#.utf8)
            let response = try await client.send(
                HTTPRequest(
                    method: "POST", url: server.baseURL + "/echo",
                    headers: ["Content-Type": "application/json"], body: json
                )
            )
            #expect(response.status == 200)
            #expect(response.headers["X-Method"] == "POST")
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(response.body == json)
        }
    }

    @Test("sends other methods with their body, and no invented Content-Type", arguments: ["PUT", "PATCH", "DELETE"])
    func otherMethods(method: String) async throws {
        try await withClient { client, server in
            let body = Data("payload for \(method)".utf8)
            let response = try await client.send(
                HTTPRequest(method: method, url: server.baseURL + "/echo", body: body)
            )
            #expect(response.status == 200)
            #expect(response.headers["X-Method"] == method)
            #expect(response.headers["X-Content-Type"] == "none")
            #expect(response.body == body)
        }
    }

    @Test("receives and sends bodies of several megabytes byte for byte")
    func largeBodies() async throws {
        try await withClient { client, server in
            let size = 6 * 1024 * 1024 + 7
            let download = try await client.send(HTTPRequest(url: server.baseURL + "/bytes/\(size)"))
            #expect(download.status == 200)
            #expect(download.body.count == size)
            #expect(download.body == Data(TestServer.patternBytes(count: size)))

            let upload = Data(TestServer.patternBytes(count: 3 * 1024 * 1024).reversed())
            let echoed = try await client.send(
                HTTPRequest(
                    method: "POST", url: server.baseURL + "/echo",
                    headers: ["Content-Type": "application/octet-stream"], body: upload
                )
            )
            #expect(echoed.body == upload)
        }
    }

    @Test("runs 100 slow requests at once in about the time of one")
    func concurrentSlowRequests() async throws {
        try await withClient { client, server in
            let delay = Duration.milliseconds(500)
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0 ..< 100 {
                    group.addTask {
                        try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=500")).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            #expect(statuses == Array(repeating: 200, count: 100))
            // One after another this takes 100 × 500 ms; five delays leave room for a loaded machine.
            #expect(elapsed < delay * 5, "took \(elapsed)")
        }
    }

    @Test("reuses one connection for requests in sequence")
    func connectionReuse() async throws {
        try await withClient { client, server in
            var ports: [String] = []
            for _ in 0 ..< 5 {
                let response = try await client.send(HTTPRequest(url: server.baseURL + "/peer"))
                ports.append(String(decoding: response.body, as: UTF8.self))
            }
            #expect(Set(ports).count == 1, "client ports: \(ports)")
        }
    }

    @Test("opens no more connections to a host than configured; the rest wait their turn")
    func connectionLimit() async throws {
        try await withClient(configuration: .init(maxConnectionsPerHost: 2)) { client, server in
            let ports = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0 ..< 6 {
                    group.addTask {
                        let response = try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=100"))
                        return String(decoding: response.body, as: UTF8.self)
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ports.count == 2, "client ports: \(ports)")
        }
    }

    @Test("cancelling the task stops its transfer promptly with .cancelled, and the client keeps working")
    func cancellation() async throws {
        try await withClient { client, server in
            // An unstructured task, because the test must cancel this one send while it is in flight.
            let slow = Task { try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=30000")) }
            var arrivals = server.slowRequestArrivals.makeAsyncIterator()
            _ = await arrivals.next()

            let cancelledAt = ContinuousClock.now
            slow.cancel()
            let outcome = await slow.result
            #expect(ContinuousClock.now - cancelledAt < .seconds(2))
            #expect(throws: HTTPClientError.self) { try outcome.get() }
            if case .failure(let error as HTTPClientError) = outcome {
                #expect(error.code == .cancelled)
            }

            let after = try await client.send(HTTPRequest(url: server.baseURL + "/hello"))
            #expect(after.status == 200)
            #expect(String(decoding: after.body, as: UTF8.self) == "hello")
        }
    }

    @Test("a task cancelled before sending fails with .cancelled without a transfer")
    func cancelledBeforeSend() async throws {
        try await withClient { client, server in
            let outcome = await Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.send(HTTPRequest(url: server.baseURL + "/slow?ms=30000"))
            }.result
            #expect(throws: HTTPClientError.self) { try outcome.get() }
            if case .failure(let error as HTTPClientError) = outcome {
                #expect(error.code == .cancelled)
            }
        }
    }

    @Test("a refused connection is a connect error")
    func connectRefused() async throws {
        let client = HTTPClient()
        // Port 1 on loopback: nothing listens there.
        _ = await expectFailure(.connect) { try await client.send(HTTPRequest(url: "http://127.0.0.1:1/")) }
        await client.shutdown()
    }

    @Test("running past the total timeout is a timeout error that leaks no header")
    func totalTimeout() async throws {
        try await withClient { client, server in
            let started = ContinuousClock.now
            let error = await expectFailure(.timeout) {
                try await client.send(
                    HTTPRequest(
                        url: server.baseURL + "/slow?ms=10000", headers: ["Authorization": "Bearer s3cret-token"],
                        body: nil, totalTimeout: .milliseconds(300)
                    )
                )
            }
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(error.map { !"\($0)".contains("s3cret-token") } == true)
        }
    }

    @Test("follows a redirect, and reports a redirect loop as tooManyRedirects")
    func redirects() async throws {
        try await withClient { client, server in
            let followed = try await client.send(HTTPRequest(url: server.baseURL + "/redirect"))
            #expect(followed.status == 200)
            #expect(String(decoding: followed.body, as: UTF8.self) == "hello")
            _ = await expectFailure(.tooManyRedirects) {
                try await client.send(HTTPRequest(url: server.baseURL + "/redirect-loop"))
            }
        }
    }

    @Test("refuses bad URLs and schemes other than http and https", arguments: ["not a url", "ftp://127.0.0.1/", ""])
    func invalidURL(url: String) async throws {
        let client = HTTPClient()
        _ = await expectFailure(.invalidURL) { try await client.send(HTTPRequest(url: url)) }
        await client.shutdown()
    }

    @Test("refuses a header that would inject a line, without repeating its value")
    func headerInjection() async throws {
        let client = HTTPClient()
        let error = await expectFailure(.invalidRequest) {
            try await client.send(
                HTTPRequest(url: "http://127.0.0.1:1/", headers: ["X-Token": "s3cret\r\nX-Injected: 1"])
            )
        }
        #expect(error.map { !"\($0)".contains("s3cret") } == true)
        await client.shutdown()
    }

    @Test("after shutdown every send fails with .cancelled")
    func sendAfterShutdown() async throws {
        let client = HTTPClient()
        await client.shutdown()
        _ = await expectFailure(.cancelled) { try await client.send(HTTPRequest(url: "http://127.0.0.1:1/")) }
    }
}
