/// The fields of a connection's hash, `P:conn:{id}` (times in ms since 1970): the one list of their names. Swift
/// reads and writes them through this type; the scripts write them by these names (`dirty`, `dirtySince`, `health`, `errorCode`,
/// `errorMessage`, `lastCatchUpAt`, `catchUpFailures`, `catchUpErrorCode`, `catchUpErrorMessage`, `catchUpRetryAt`),
/// and a test checks that every name found in the hash is one of these.
enum ConnectionField: String, CaseIterable, Sendable {
    case id, provider, address, parentId, health, errorCode, errorMessage, createdAt
    /// The sealed OAuth tokens (absent for `auth: app` and once disconnected).
    case credentials
    /// `app` for a Microsoft 365 mailbox read with the service's own app token; absent: delegated tokens.
    case auth
    /// Notifications not yet caught up, and when the first of them came (ms; for the catch-up delay metric).
    case dirty, dirtySince
    case realtimeMode, channelExpiresAt, lastCatchUpAt
    /// Catch-ups failed in a row for a passing reason, the latest one's error, and when the next is due (ms);
    /// all removed by the next catch-up that succeeds.
    case catchUpFailures, catchUpErrorCode, catchUpErrorMessage, catchUpRetryAt

    /// What a view of the connection reads: everything but the credentials and the dirty count.
    static let view: [ConnectionField] = [
        .id, .provider, .address, .parentId, .health, .errorCode, .errorMessage, .createdAt, .realtimeMode,
        .lastCatchUpAt, .channelExpiresAt, .auth, .catchUpFailures, .catchUpErrorCode, .catchUpErrorMessage, .catchUpRetryAt,
    ]
}
