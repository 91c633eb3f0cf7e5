import Foundation

/// The mail providers Backfill speaks to.
public enum ProviderKind: String, Sendable, Codable, CaseIterable {
    case graph
    case gmail
}

/// How a connection's provider requests are authorized.
public enum ConnectionAuth: String, Sendable, Codable, CaseIterable {
    /// OAuth tokens a user granted (authorization code + refresh token): the connection's own, or for a
    /// shared mailbox its parent's.
    case delegated
    /// The service's own application registration (client credentials; Microsoft 365 only): nothing is
    /// stored per connection, and no connection is another's parent or child.
    case app
}

/// One connected mailbox. A shared mailbox (support@) has a `parentId`: the personal connection whose
/// token may read it (unless it is connected with the app's token, `auth == .app`).
public struct Connection: Sendable, Equatable, Codable {
    public var id: String
    public var provider: ProviderKind
    /// The mailbox address (UPN for Graph, email for Gmail). Never logged, never a metric label.
    public var address: String
    public var parentId: String?
    public var health: ConnectionHealth
    public var errorCode: BackfillErrorCode?
    public var errorMessage: String?
    public var createdAt: Date
    /// How new mail arrives; nil until the push channel was first looked at.
    public var realtime: RealtimeStatus?
    public var auth: ConnectionAuth

    public init(
        id: String, provider: ProviderKind, address: String, parentId: String? = nil, health: ConnectionHealth = .healthy,
        errorCode: BackfillErrorCode? = nil, errorMessage: String? = nil, createdAt: Date, realtime: RealtimeStatus? = nil,
        auth: ConnectionAuth = .delegated
    ) {
        self.id = id
        self.provider = provider
        self.address = address
        self.parentId = parentId
        self.health = health
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.createdAt = createdAt
        self.realtime = realtime
        self.auth = auth
    }
}

/// OAuth tokens of a connection. Stored encrypted; never logged (the description hides them).
public struct OAuthCredentials: Sendable, Equatable, Codable, CustomStringConvertible {
    public var accessToken: String
    public var refreshToken: String
    public var expiresAt: Date?

    public init(accessToken: String, refreshToken: String, expiresAt: Date?) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }

    public var description: String { "OAuthCredentials(redacted, expiresAt: \(expiresAt.map { "\($0)" } ?? "unknown"))" }
}

/// Where connections, their credentials and their real-time sync state live. Provider clients read and
/// update credentials (refresh, rotation) and sync state (delta links, history ids, subscriptions)
/// through this; the scheduler's Redis implementation encrypts credentials at rest.
public protocol ConnectionDirectory: Sendable {
    func connection(_ id: String) async throws -> Connection?
    /// Decrypted credentials, or nil when the connection has none (disconnected).
    func credentials(for id: String) async throws -> OAuthCredentials?
    func updateCredentials(_ credentials: OAuthCredentials, for id: String) async throws
    /// The provider's real-time state, opaque to everyone else: field → value.
    func syncState(for id: String) async throws -> [String: String]
    /// Sets the given fields (an empty value removes the field).
    func updateSyncState(_ changes: [String: String], for id: String) async throws
    /// Records that the connection's own token was refused: it goes into `error` with this failure, as when
    /// a shared mailbox found that the parent token it borrows no longer works.
    func recordRefusal(of id: String, code: BackfillErrorCode, message: String) async throws
    /// Lists messages a real-time catch-up goes on without (`CatchUpRefusals`) with the connection's skipped
    /// messages, where a "retry skipped" finds them. Listing one twice changes nothing.
    func listSkipped(_ skipped: [SkippedMessage], for id: String) async throws
}

/// Seals credentials for storage at rest (authenticated encryption) and opens them again. The
/// implementation lives with the crypto library; the core only names what storage needs.
public protocol CredentialSealer: Sendable {
    func seal(_ plaintext: Data) throws -> String
    func open(_ sealed: String) throws -> Data
}
