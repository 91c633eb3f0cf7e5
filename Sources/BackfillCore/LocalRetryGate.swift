import Synchronization

/// A Retry-After gate for this process only (tests, benches, a single instance): it cannot see a
/// Retry-After another process was given. Servers use the Redis one, which every instance shares.
public final class LocalRetryGate: RetryGate {
    private let clock = ContinuousClock()
    private let notBefore = Mutex<[String: ContinuousClock.Instant]>([:])

    public init() {}

    public func remaining(mailbox: String) async throws -> Duration {
        let now = clock.now
        return notBefore.withLock { gates in
            guard let until = gates[mailbox] else { return .zero }
            if until <= now {
                // Forget an open gate, so the table does not grow with every mailbox ever throttled.
                gates[mailbox] = nil
                return .zero
            }
            return until - now
        }
    }

    public func close(mailbox: String, for wait: Duration) async throws {
        let until = clock.now + wait
        notBefore.withLock { gates in gates[mailbox] = max(gates[mailbox] ?? until, until) }
    }
}
