import Synchronization

/// The shared part of admission for one process alone (tests, benches, a single instance): it cannot see a
/// Retry-After another process was given. Servers use the Redis one, which every instance shares.
public final class LocalSharedAdmission: SharedAdmission {
    private struct Mailbox {
        var closedUntil: ContinuousClock.Instant?
        var permits: Set<String> = []
    }

    private let clock = ContinuousClock()
    private let limit: Int
    private let mailboxes = Mutex<[String: Mailbox]>([:])
    public let slotLifetime: Duration = .seconds(3600)

    /// - Parameter slotsPerMailbox: requests in flight per mailbox; unbounded by default.
    public init(slotsPerMailbox: Int = .max) {
        limit = slotsPerMailbox
    }

    public func admit(mailbox: String, permit: String) async throws -> SharedAdmit {
        let now = clock.now
        return mailboxes.withLock { table in
            var state = table[mailbox] ?? Mailbox()
            if let until = state.closedUntil, until > now { return .gateClosed(until - now) }
            guard state.permits.count < limit else { return .slotsBusy(.milliseconds(10)) }
            state.permits.insert(permit)
            table[mailbox] = state
            return .admitted
        }
    }

    public func renew(mailbox: String, permit: String) async throws -> Bool {
        mailboxes.withLock { $0[mailbox]?.permits.contains(permit) ?? false }
    }

    public func release(mailbox: String, permit: String, closingGateFor wait: Duration?) async throws {
        let now = clock.now
        mailboxes.withLock { table in
            guard var state = table[mailbox] else {
                if let wait { table[mailbox] = Mailbox(closedUntil: now + wait) }
                return
            }
            state.permits.remove(permit)
            if let wait { state.closedUntil = max(state.closedUntil ?? now + wait, now + wait) }
            // Forget a mailbox with nothing held, so the table does not grow with every mailbox ever served.
            let open = state.closedUntil.map { $0 <= now } ?? true
            table[mailbox] = state.permits.isEmpty && open ? nil : state
        }
    }
}
