import Foundation

/// A provider answer classified into what the scheduler must do about it. Provider clients map every
/// HTTP status, error body and transport error into one of these; the scheduler never sees raw errors.
public enum ProviderFailure: Error, Sendable, Equatable {
    /// 429, 503 with Retry-After, Gmail 403 rate limits. Parks the backfill until `retryAfter` has passed
    /// (nil: the provider named no time; the retry policy picks one). Never burns the failure budget.
    case throttled(retryAfter: Duration?)
    /// Not a refusal: the mailbox's own quota pacing (Gmail's per-user quota, spent evenly) has no room for
    /// this long, more than is waited in place. Parks the backfill like a throttle; shown as pacing, not throttled.
    case pacing(Duration)
    /// The refresh token no longer works (`invalid_grant`): the user must reconnect.
    case tokenExpired(String)
    /// Access denied, grant revoked, mailbox gone: an admin must act.
    case permissionLost(String)
    /// 5xx without Retry-After, timeouts, dropped connections: retried with backoff.
    case transient(String)
    /// Malformed or unexpected body: the page is not committed; the message names the request.
    case invalidResponse(String)
    /// The incremental cursor expired (Graph 410, Gmail history 404): a catch-up must start over.
    case cursorExpired(String)
    /// A shared mailbox's parent connection cannot lend its token; the argument names the parent's
    /// address for the card ("Waiting on personal@acme.com — reconnect it").
    case parentUnavailable(String)
    /// Not the provider's: the message store cannot write (disk full, I/O error, database unreachable).
    /// The page was not committed; the backfill waits with backoff and never fails for it, since nothing
    /// about the mailbox is wrong. The operator frees space or brings the store back.
    case storeUnavailable(String)

    /// Whether this is a throttle (the backfill is parked, not failed).
    public var isThrottle: Bool {
        switch self {
        case .throttled, .pacing: true
        default: false
        }
    }

    /// The stable code the API shows in `error.code`.
    public var code: BackfillErrorCode {
        switch self {
        case .throttled: .throttled
        case .pacing: .pacing
        case .tokenExpired: .tokenExpired
        case .permissionLost: .permissionLost
        case .transient: .transient
        case .invalidResponse: .invalidResponse
        case .cursorExpired: .cursorExpired
        case .parentUnavailable: .waitingOnParent
        case .storeUnavailable: .storeUnavailable
        }
    }

    /// Words for the error card; never holds tokens or message content.
    public var message: String {
        switch self {
        case .throttled(let after):
            after.map { "throttled by the provider for \($0.secondsDescription)" } ?? "throttled by the provider"
        case .pacing(let wait): "pacing to the mailbox's quota; next batch in \(wait.secondsDescription)"
        case .tokenExpired(let detail): "token expired; reconnect the mailbox (\(detail))"
        case .permissionLost(let detail): "permission lost; ask the mailbox's admin (\(detail))"
        case .transient(let detail): "temporary provider failure (\(detail))"
        case .invalidResponse(let detail): "provider sent an invalid response (\(detail))"
        case .cursorExpired(let detail): "sync cursor expired; catching up (\(detail))"
        case .parentUnavailable(let parent): "Waiting on \(parent) — reconnect it"
        case .storeUnavailable(let detail): "the message store cannot write; free space or restore it, the backfill goes on by itself (\(detail))"
        }
    }
}

/// Codes shown in a backfill's `error.code`.
public enum BackfillErrorCode: String, Sendable, Codable, CaseIterable {
    /// The provider refused requests (429, rate-limit 403s) and named or implied a wait.
    case throttled
    /// The backfill waits on its own pacing to the provider's quota; nothing was refused.
    case pacing
    case tokenExpired = "token_expired"
    case permissionLost = "permission_lost"
    case transient
    case invalidResponse = "invalid_response"
    case cursorExpired = "cursor_expired"
    case waitingOnParent = "waiting_on_parent"
    case storeUnavailable = "store_unavailable"
    case stalled

    /// Whether Retry can help without someone reconnecting or changing permissions.
    public var isRetryable: Bool {
        switch self {
        case .tokenExpired, .permissionLost: false
        default: true
        }
    }

    /// Whether this error puts the connection itself in `error` health (its token is unusable).
    public var breaksConnection: Bool {
        !isRetryable
    }
}

extension Duration {
    /// "2.1 s" style, for messages.
    public var secondsDescription: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : String(format: "%.1f s", seconds)
    }

    /// Seconds as a Double, for arithmetic with `Date`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
