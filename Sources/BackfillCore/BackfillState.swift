/// Where a backfill stands, as the API shows it.
public enum BackfillState: String, Sendable, Codable, CaseIterable {
    /// Waiting for a worker (new, resumed, or backing off after a transient error until `retryAt`).
    case queued
    /// A worker holds the connection's lease and is pulling pages.
    case running
    /// Stopped by the user at the end of a page; resumes from the stored cursor.
    case paused
    /// Parked until `retryAt`, when it resumes by itself: the provider refused requests (429, 503 with Retry-After;
    /// error `throttled`) or the mailbox waits on its own quota pacing (error `pacing`).
    case throttled
    /// A shared mailbox whose parent (personal) connection cannot lend its token.
    case waitingOnParent = "waiting_on_parent"
    case completed
    case cancelled
    /// Stopped on an error; `error.retryable` says whether Retry can help without a reconnect.
    case failed

    /// No more work will happen without a reset (or, for `failed`, a retry).
    public var isFinished: Bool {
        switch self {
        case .completed, .cancelled, .failed: true
        default: false
        }
    }

    /// A worker may claim it (subject to `retryAt` and the lease).
    public var isRunnable: Bool {
        switch self {
        case .queued, .running, .throttled: true
        default: false
        }
    }
}
