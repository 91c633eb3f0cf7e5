import Foundation

/// One provider request as the simulator saw it: what tests check client behaviour against.
struct JournalEntry {
    let sequence: Int
    let time: Date
    let mailbox: String?
    let provider: String
    let method: String
    let route: String
    /// Requests of the same mailbox in flight when this one arrived.
    let inFlightAtStart: Int
    /// It came before a Retry-After given to its mailbox had passed.
    let beforeRetryAfter: Bool
    /// The `Retry-Attempt` header the client sent (SDKs number their retries).
    let retryAttempt: String?
    var status = 0
    var finished: Date?

    var json: [String: Any] {
        var object: [String: Any] = [
            "sequence": sequence, "time": ISOTime.format(time), "timeMs": Int64(time.timeIntervalSince1970 * 1000),
            "provider": provider, "method": method, "route": route, "status": status,
            "inFlightAtStart": inFlightAtStart, "beforeRetryAfter": beforeRetryAfter,
        ]
        object["mailbox"] = mailbox
        object["retryAttempt"] = retryAttempt
        if let finished { object["durationMs"] = Int(finished.timeIntervalSince(time) * 1000) }
        return object
    }
}
