import Synchronization

/// The shared part of admission for one process alone (tests, benches, a single instance): it cannot see a
/// Retry-After another process was given. Servers use the Redis one, which every instance shares.
public final class LocalSharedAdmission: SharedAdmission {
    private struct Mailbox {
        var closedUntil: ContinuousClock.Instant?
        var permits: [String: Int] = [:]
    }

    private let clock = ContinuousClock()
    private let mailboxes = Mutex<[String: Mailbox]>([:])
    public let slotLifetime: Duration = .seconds(3600)

    public init() {}

    public func admit(mailbox: String, permit: SlotPermit, limit: Int) async throws -> SharedAdmit {
        let now = clock.now
        return mailboxes.withLock { table in
            var state = table[mailbox] ?? Mailbox()
            if let until = state.closedUntil, until > now { return .gateClosed(until - now) }
            let units = permit.units(of: limit)
            guard state.permits.values.reduce(0, +) + units <= limit else { return .slotsBusy(.milliseconds(10)) }
            state.permits[permit.id] = units
            table[mailbox] = state
            return .admitted
        }
    }

    public func renew(mailbox: String, permit: SlotPermit) async throws -> Bool {
        mailboxes.withLock { $0[mailbox]?.permits[permit.id] != nil }
    }

    public func release(mailbox: String, permit: SlotPermit, closingGateFor wait: Duration?) async throws {
        let now = clock.now
        mailboxes.withLock { table in
            guard var state = table[mailbox] else {
                if let wait { table[mailbox] = Mailbox(closedUntil: now + wait) }
                return
            }
            state.permits[permit.id] = nil
            if let wait { state.closedUntil = max(state.closedUntil ?? now + wait, now + wait) }
            // Forget a mailbox with nothing held, so the table does not grow with every mailbox ever served.
            let open = state.closedUntil.map { $0 <= now } ?? true
            table[mailbox] = state.permits.isEmpty && open ? nil : state
        }
    }
}
