// Throughput of BackfillHTTP's HTTPClient against a baseline measured in the same run: URLSession
// (FoundationNetworking, also libcurl underneath) sending the same requests to the same in-process
// Hummingbird server on loopback. Figures are ratios; the server shares the machine, so absolute numbers
// say little.
//
//   swift run -c release HTTPBench [requests] [concurrency]
import BackfillHTTP
import Foundation
import Hummingbird
import Logging

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let requestCount = arguments.first ?? 5_000
let concurrency = arguments.dropFirst().first ?? 64

/// Sends `count` GETs of `url`, `concurrency` at a time, and returns the seconds taken.
func measure(count: Int, concurrency: Int, _ send: @escaping @Sendable () async throws -> Int) async throws -> Double {
    let started = ContinuousClock.now
    try await withThrowingTaskGroup(of: Int.self) { group in
        var sent = 0
        while sent < min(concurrency, count) {
            group.addTask(operation: send)
            sent += 1
        }
        while let status = try await group.next() {
            precondition(status == 200, "status \(status)")
            if sent < count {
                group.addTask(operation: send)
                sent += 1
            }
        }
    }
    let elapsed = ContinuousClock.now - started
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func report(_ name: String, count: Int, client: Double, baseline: Double) {
    let rate = Double(count) / client
    let baselineRate = Double(count) / baseline
    print(
        "\(name): HTTPClient \(Int(rate)) req/s, URLSession \(Int(baselineRate)) req/s,"
            + " ratio \(String(format: "%.2f", rate / baselineRate))×"
    )
}

let router = Router()
router.get("/hello") { _, _ in "hello" }
let megabyte = ByteBuffer(bytes: [UInt8](repeating: 0x61, count: 1 << 20))
router.get("/megabyte") { _, _ in Response(status: .ok, body: .init(byteBuffer: megabyte)) }

var serverLogger = Logger(label: "backfill.http.bench-server")
serverLogger.logLevel = .critical
let (ports, portContinuation) = AsyncStream<Int>.makeStream()
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: 0)),
    onServerRunning: { channel in
        portContinuation.yield(channel.localAddress?.port ?? 0)
        portContinuation.finish()
    },
    logger: serverLogger
)

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await app.run() }
    var portIterator = ports.makeAsyncIterator()
    guard let port = await portIterator.next(), port != 0 else { fatalError("the server did not start") }
    let base = "http://127.0.0.1:\(port)"

    let client = HTTPClient(configuration: .init(maxConnectionsPerHost: concurrency))
    let sessionConfiguration = URLSessionConfiguration.ephemeral
    sessionConfiguration.httpMaximumConnectionsPerHost = concurrency
    let session = URLSession(configuration: sessionConfiguration)

    let helloURL = URL(string: base + "/hello")!
    // Hummingbird exports HTTPTypes.HTTPRequest too, so the client's is named with its module.
    let sendWithClient: @Sendable () async throws -> Int = {
        try await client.send(BackfillHTTP.HTTPRequest(url: base + "/hello")).status
    }
    let sendWithSession: @Sendable () async throws -> Int = {
        let (_, response) = try await session.data(from: helloURL)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
    let megabyteURL = URL(string: base + "/megabyte")!
    let downloadWithClient: @Sendable () async throws -> Int = {
        try await client.send(BackfillHTTP.HTTPRequest(url: base + "/megabyte")).status
    }
    let downloadWithSession: @Sendable () async throws -> Int = {
        let (_, response) = try await session.data(from: megabyteURL)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    // Warm up both (connections, caches), then measure each in turn.
    _ = try await measure(count: 200, concurrency: concurrency, sendWithClient)
    _ = try await measure(count: 200, concurrency: concurrency, sendWithSession)

    print("HTTPBench: \(requestCount) small GETs, \(concurrency) in flight; 1 one at a time; 200 × 1 MiB")
    report(
        "small, concurrent", count: requestCount,
        client: try await measure(count: requestCount, concurrency: concurrency, sendWithClient),
        baseline: try await measure(count: requestCount, concurrency: concurrency, sendWithSession)
    )
    let sequential = max(1, requestCount / 5)
    report(
        "small, one at a time", count: sequential,
        client: try await measure(count: sequential, concurrency: 1, sendWithClient),
        baseline: try await measure(count: sequential, concurrency: 1, sendWithSession)
    )
    report(
        "1 MiB bodies", count: 200,
        client: try await measure(count: 200, concurrency: 8, downloadWithClient),
        baseline: try await measure(count: 200, concurrency: 8, downloadWithSession)
    )

    await client.shutdown()
    session.invalidateAndCancel()
    group.cancelAll()
}
