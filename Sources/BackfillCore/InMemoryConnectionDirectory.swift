/// A `ConnectionDirectory` held in memory, for tests and the single-process demo. Credentials are kept
/// as given (there is nothing at rest to encrypt).
public actor InMemoryConnectionDirectory: ConnectionDirectory {
    private var connections: [String: Connection] = [:]
    private var credentialsById: [String: OAuthCredentials] = [:]
    private var syncStates: [String: [String: String]] = [:]
    private var skippedById: [String: [String: SkippedMessage]] = [:]

    public init() {}

    /// Adds or replaces a connection and, when given, its credentials.
    public func save(_ connection: Connection, credentials: OAuthCredentials? = nil) {
        connections[connection.id] = connection
        if let credentials {
            credentialsById[connection.id] = credentials
        }
    }

    /// Forgets the credentials of a connection (a disconnect); the connection itself stays.
    public func removeCredentials(for id: String) {
        credentialsById[id] = nil
    }

    public func connection(_ id: String) -> Connection? {
        connections[id]
    }

    public func credentials(for id: String) -> OAuthCredentials? {
        credentialsById[id]
    }

    public func updateCredentials(_ credentials: OAuthCredentials, for id: String) {
        credentialsById[id] = credentials
    }

    public func syncState(for id: String) -> [String: String] {
        syncStates[id] ?? [:]
    }

    public func updateSyncState(_ changes: [String: String], for id: String) {
        var state = syncStates[id] ?? [:]
        for (field, value) in changes {
            state[field] = value.isEmpty ? nil : value
        }
        syncStates[id] = state
    }

    public func recordRefusal(of id: String, code: BackfillErrorCode, message: String) {
        connections[id]?.health = .error
        connections[id]?.errorCode = code
        connections[id]?.errorMessage = message
    }

    public func listSkipped(_ skipped: [SkippedMessage], for id: String) {
        for entry in skipped { skippedById[id, default: [:]][entry.providerMessageId] = entry }
    }

    /// The connection's listed skipped messages, by provider id.
    public func skipped(for id: String) -> [SkippedMessage] {
        (skippedById[id] ?? [:]).values.sorted { $0.providerMessageId < $1.providerMessageId }
    }
}
