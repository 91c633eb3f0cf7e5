/// Each mailbox's "not before" time after a provider answered Retry-After, shared by every instance that
/// may send to the mailbox: a worker that takes over a connection (its previous holder was killed, or
/// yielded) and the tick's subscription renewals must wait out a Retry-After another instance was given.
/// Provider clients read it before every request and close it on every throttle.
public protocol RetryGate: Sendable {
    /// How long requests to the mailbox must still wait; zero when the gate is open.
    func remaining(mailbox: String) async throws -> Duration
    /// Closes the gate for `wait` from now. A later time already set is kept.
    func close(mailbox: String, for wait: Duration) async throws
}
