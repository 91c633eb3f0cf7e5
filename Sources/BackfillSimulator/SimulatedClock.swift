import Foundation

/// The simulator's "now": the real time plus an offset that tests move forward to expire tokens, cursors
/// and quota windows without sleeping. Only read under the world lock.
struct SimulatedClock {
    private var offset: TimeInterval

    /// Starts at `start` (real time when nil).
    init(start: Date?) {
        offset = start.map { $0.timeIntervalSinceNow } ?? 0
    }

    var now: Date { Date().addingTimeInterval(offset) }

    mutating func advance(by seconds: TimeInterval) {
        offset += seconds
    }
}
