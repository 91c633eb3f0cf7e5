import BackfillTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a server-sent event stream over a plain loopback socket (the HTTP client in BackfillHTTP
/// buffers whole bodies), decoding the chunked body. The blocking reads run on a thread of their own.
final class EventStreamClient: @unchecked Sendable {  // the socket is only read by the reader thread, closed once
    struct Event: Sendable, Equatable {
        var name: String
        var data: String
    }

    let status: Int
    let events: AsyncStream<Event>
    private let socket: Int32

    private init(status: Int, events: AsyncStream<Event>, socket: Int32) {
        self.status = status
        self.events = events
        self.socket = socket
    }

    /// Connects, sends the request and waits for the response headers; events then arrive on `events`.
    /// Everything blocking runs on the client's own thread, never on Swift's cooperative pool.
    static func open(port: Int, path: String, token: String? = nil) async throws -> EventStreamClient {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let status: Int = try await withCheckedThrowingContinuation { continuation in
            Thread {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else { return continuation.resume(throwing: TestSetupError("cannot connect to port \(port)")) }
                let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
                let request = "GET \(path) HTTP/1.1\r\nConnection: close\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\(auth)\r\n"
                _ = request.withCString { send(fd, $0, strlen($0), 0) }

                var raw = [UInt8]()
                var chunk = [UInt8](repeating: 0, count: 4096)
                while raw.headerEnd == nil {
                    let count = recv(fd, &chunk, chunk.count, 0)
                    guard count > 0 else { return continuation.resume(throwing: TestSetupError("the stream closed before its headers")) }
                    raw += chunk[0..<count]
                }
                let headerEnd = raw.headerEnd!
                let head = String(decoding: raw[..<headerEnd], as: UTF8.self)
                continuation.resume(returning: Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0)
                let chunked = head.lowercased().contains("transfer-encoding: chunked")
                raw.removeSubrange(..<(headerEnd + 4))
                readEvents(fd, raw: raw, chunked: chunked, into: sink)
            }.start()
        }
        return EventStreamClient(status: status, events: events, socket: fd)
    }

    /// Reads until the server closes the stream, yielding each complete event.
    private static func readEvents(_ fd: Int32, raw: [UInt8], chunked: Bool, into sink: AsyncStream<Event>.Continuation) {
        var raw = raw  // bytes as received (chunked or not)
        var body = [UInt8]()  // the decoded body not yet split into lines
        var name = "message", data: [String] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            body += chunked ? dechunk(&raw) : raw
            if !chunked { raw = [] }
            while let newline = body.firstIndex(of: 10) {
                var line = String(decoding: body[..<newline], as: UTF8.self)
                if line.hasSuffix("\r") { line.removeLast() }
                body.removeSubrange(...newline)
                if line.isEmpty {
                    if !data.isEmpty { sink.yield(Event(name: name, data: data.joined(separator: "\n"))) }
                    name = "message"
                    data = []
                } else if line.hasPrefix("event: ") {
                    name = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    data.append(String(line.dropFirst(6)))
                }
            }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            raw += chunk[0..<count]
        }
        sink.finish()
    }

    /// Takes the complete chunks off the front of `raw` and returns their payload.
    private static func dechunk(_ raw: inout [UInt8]) -> [UInt8] {
        var payload = [UInt8]()
        while let lineEnd = raw.indices.dropLast().first(where: { raw[$0] == 13 && raw[$0 + 1] == 10 }),
              let size = Int(String(decoding: raw[..<lineEnd], as: UTF8.self), radix: 16),
              raw.count >= lineEnd + 2 + size + 2 {
            payload += raw[(lineEnd + 2)..<(lineEnd + 2 + size)]
            raw.removeSubrange(..<(lineEnd + 2 + size + 2))
        }
        return payload
    }

    /// The next event, or nil when the stream ended or nothing came within `timeout`.
    func next(timeout: Duration = .seconds(5), where matches: @escaping @Sendable (Event) -> Bool = { _ in true }) async -> Event? {
        let events = self.events
        return await withTaskGroup(of: Event?.self) { group in
            group.addTask {
                for await event in events where matches(event) { return event }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    func close() {
        shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
    }
}

private extension [UInt8] {
    /// Where the blank line after the headers starts.
    var headerEnd: Int? {
        count >= 4 ? (0...(count - 4)).first { self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10 } : nil
    }
}
