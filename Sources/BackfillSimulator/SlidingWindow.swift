import DequeModule
import Foundation

/// Amounts (requests or quota units) by time, summed over a trailing window: the limit both providers apply.
struct SlidingWindow {
    private var entries = Deque<(time: Date, amount: Int)>()
    private(set) var total = 0

    /// Forgets what fell out of the window ending at `now`.
    mutating func slide(to now: Date, length: TimeInterval) {
        let start = now.addingTimeInterval(-length)
        while let first = entries.first, first.time <= start {
            total -= first.amount
            entries.removeFirst()
        }
    }

    mutating func add(_ amount: Int, at time: Date) {
        entries.append((time, amount))
        total += amount
    }

    /// When enough of the window will have slid out for `amount` more to fit under `limit`.
    func timeUntilRoom(for amount: Int, limit: Int, length: TimeInterval, now: Date) -> TimeInterval {
        var excess = total + amount - limit
        for entry in entries {
            guard excess > 0 else { break }
            excess -= entry.amount
            if excess <= 0 { return max(entry.time.addingTimeInterval(length).timeIntervalSince(now), 0) }
        }
        return 0
    }
}
