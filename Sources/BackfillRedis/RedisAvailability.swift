import Foundation

/// Whether the server is known to be down, shared by all connections of one client.
///
/// Known down: a connect attempt failed (refused, timed out, AUTH or SELECT failed) and no connect has
/// succeeded since, until that connection's next attempt is due (its backoff, 25 ms doubling to 1 s). It
/// is cleared by the first connect that succeeds. A dropped connection alone does not set it: the next
/// attempt tells. Because it lapses at the backoff, a caller that only fails fast still makes a connect
/// attempt about once a second, so it sees the server come back without anyone else's traffic.
final class RedisAvailability: @unchecked Sendable {  // state behind `lock`
    private let lock = NSLock()
    private var downUntil: ContinuousClock.Instant?
    private var lastFailure = RedisError(code: .connection, message: "not connected yet")

    var isKnownDown: Bool {
        lock.withLock { downUntil.map { ContinuousClock.now < $0 } ?? false }
    }

    /// The error a fail-fast command gets while the server is known down.
    var unavailable: RedisError {
        let failure = lock.withLock { lastFailure }
        return RedisError(code: .connection, message: "Redis is unreachable: \(failure.message)")
    }

    /// A connect attempt failed; the connection tries again at `retryAt`.
    func connectFailed(_ error: RedisError, retryAt: ContinuousClock.Instant) {
        lock.withLock {
            lastFailure = error
            downUntil = max(downUntil ?? retryAt, retryAt)
        }
    }

    /// A connect succeeded: the server is up.
    func connected() {
        lock.withLock { downUntil = nil }
    }
}

/// Set by `RedisClient.failingFast`: commands sent from the task fail at once while their connection
/// cannot reach the server, instead of waiting for a reconnect until their timeout.
enum RedisFailFast {
    @TaskLocal static var isOn = false
}
