import Foundation

/// The part of a mailbox's admission every instance shares (in Redis on a server): its Retry-After gate (the
/// "not before" time a provider named) and its request slots: at most `limit` units in flight across all
/// instances, a request taking the units of its `SlotPermit` (Graph: one a request, of
/// `AdmissionPolicy.requestsInFlightPerMailbox`; Gmail: one a call, so a batch of ten takes ten, of
/// `AdmissionPolicy.gmailCallsInFlightPerMailbox`). A worker that takes a connection over, or the tick's subscription
/// renewals, must wait out a Retry-After another instance was given.
///
/// Each provider request costs two calls: `admit` right before it is sent (checks the gate and takes a slot at
/// once) and `release` when its answer came (gives the slot back and, after a throttle, closes the gate).
public protocol SharedAdmission: Sendable {
    /// Checks the mailbox's gate and, when it is open, takes `permit`'s units of its `limit` (a permit of more
    /// units than the limit takes all of it).
    func admit(mailbox: String, permit: SlotPermit, limit: Int) async throws -> SharedAdmit
    /// Keeps a running request's slot (slots expire, so a killed holder's come back); false when it had
    /// already expired.
    func renew(mailbox: String, permit: SlotPermit) async throws -> Bool
    /// Gives the slot back and, when `closingGateFor` is set, closes the gate for that long from now (a later
    /// time already set is kept).
    func release(mailbox: String, permit: SlotPermit, closingGateFor: Duration?) async throws
    /// How long the slots of a running request last before they must be renewed.
    var slotLifetime: Duration { get }
}

/// What `SharedAdmission.admit` found.
public enum SharedAdmit: Sendable, Equatable {
    /// The gate is open and the slot is taken: send now.
    case admitted
    /// The gate is closed for this long: no slot was taken.
    case gateClosed(Duration)
    /// Too few units are free (two holders overlap, e.g. a fenced worker still finishing, or a request beside a
    /// Gmail batch): ask again after this long at most (the earliest slot's expiry).
    case slotsBusy(Duration)
}

extension SharedAdmission {
    /// Runs `body` inside `units` of the mailbox's `limit` once its gate is open (stand-in providers in tests,
    /// which need the bound on requests in flight but no answers to classify).
    public func withSlot<T: Sendable>(
        mailbox: String, units: Int = 1, limit: Int = AdmissionPolicy.requestsInFlightPerMailbox,
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let permit = SlotPermit(units: units)
        while case .gateClosed(let wait) = try await admitWaitingForSlot(mailbox: mailbox, permit: permit, limit: limit) {
            try await Task.sleep(for: wait)
        }
        let outcome: Result<T, any Error>
        do { outcome = .success(try await renewing(mailbox: mailbox, permit: permit, body)) } catch { outcome = .failure(error) }
        try? await release(mailbox: mailbox, permit: permit, closingGateFor: nil)
        return try outcome.get()
    }

    /// `admit`, asked again while too few units are free (a short wait, bounded by the earliest slot's expiry).
    /// Returns `.admitted` or `.gateClosed`.
    public func admitWaitingForSlot(mailbox: String, permit: SlotPermit, limit: Int) async throws -> SharedAdmit {
        while true {
            let admitted = try await admit(mailbox: mailbox, permit: permit, limit: limit)
            guard case .slotsBusy(let retryIn) = admitted else { return admitted }
            try await Task.sleep(for: min(max(retryIn, .milliseconds(5)), .milliseconds(50)))
        }
    }

    /// Runs `body` while a child task keeps the slot of `permit` alive: slots expire (a killed holder's come
    /// back), so a request that runs longer than a third of their lifetime renews its own.
    public func renewing<T: Sendable>(
        mailbox: String, permit: SlotPermit, _ body: @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let interval = slotLifetime / 3
                while true {
                    do { try await Task.sleep(for: interval) } catch { return }
                    // A failed renewal is tried again at the next interval: the slot still has two thirds left.
                    if (try? await renew(mailbox: mailbox, permit: permit)) == false { return }
                }
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}
