import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /v1/connections/{id}/events`: server-sent events of one connection's progress. Sends
/// `event: connection` with the Connection JSON when the stream opens and whenever it changes (Redis is
/// looked at every `pollInterval`), and `event: heartbeat` every `heartbeatInterval` so that a dead
/// client is noticed (its write fails) and the console's watchdog stays quiet. Ends on graceful shutdown,
/// when the connection is deleted, or when the client goes away.
struct EventStream: Sendable {
    let reader: ConnectionReader
    let pollInterval: Duration
    let heartbeatInterval: Duration
    let logger: Logger

    func response(for id: String) async throws -> Response {
        guard let first = try await reader.view(id) else { throw APIError.connectionNotFound(id) }
        let headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await stream(id, first: first, into: &writer)
        })
    }

    private func stream(_ id: String, first: ConnectionView, into writer: inout any ResponseBodyWriter) async throws {
        var last = try JSONEncoder.api.encode(first)
        try await writer.write(Self.event("connection", last))
        var lastBeat = ContinuousClock.now
        // Graceful shutdown is seen within one poll interval; the stream then finishes cleanly.
        while !Task.isShuttingDownGracefully {
            try await Task.sleep(for: pollInterval)
            let current: Data
            do {
                guard let view = try await reader.view(id) else { break }
                current = try JSONEncoder.api.encode(view)
            } catch {
                // A Redis hiccup: keep the stream; the next poll tries again.
                logger.warning("event stream poll failed", metadata: ["connection": "\(id)", "error": "\(error)"])
                current = last
            }
            // A failed write means the client is gone: the error ends the stream.
            if current != last {
                last = current
                try await writer.write(Self.event("connection", current))
            }
            if ContinuousClock.now - lastBeat >= heartbeatInterval {
                lastBeat = ContinuousClock.now
                try await writer.write(Self.event("heartbeat", Data("{}".utf8)))
            }
        }
        try await writer.finish(nil)
    }

    /// One event; the JSON holds no raw newlines (JSONEncoder escapes them), so one data line suffices.
    static func event(_ name: String, _ data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("event: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }
}
