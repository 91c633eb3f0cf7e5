import BackfillCore
import BackfillHTTP

/// The provider the scheduler and server talk to: dispatches each call to Graph or Gmail by the
/// connection's `provider` in the directory.
public struct ProviderRouter: MailProvider, RealtimeSync, CompletenessAuditing {
    /// What each provider does, so that every call goes through `dispatch` whatever it asks.
    typealias Routed = MailProvider & RealtimeSync & CompletenessAuditing & BackfillEstimating

    public let graph: GraphProvider
    public let gmail: GmailProvider
    private let directory: any ConnectionDirectory

    public init(graph: GraphProvider, gmail: GmailProvider, directory: any ConnectionDirectory) {
        self.graph = graph
        self.gmail = gmail
        self.directory = directory
    }

    /// Both providers over one HTTP client, one directory and one shared admission (Retry-After gate and
    /// request slots).
    /// - Parameters:
    ///   - admission: servers pass the Redis one every instance shares; the in-process default suits a
    ///     single process (tests, benches).
    ///   - gmailQuotaUnitsPerMinute: Gmail's per-user quota, which the Gmail provider paces to.
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient,
        admission: any SharedAdmission = LocalSharedAdmission(), clock: any WallClock = SystemWallClock(),
        gmailQuotaUnitsPerMinute: Int = AdmissionPolicy.gmailQuotaUnitsPerMinute
    ) {
        self.init(
            graph: GraphProvider(endpoints: endpoints, directory: directory, http: http, admission: admission, clock: clock),
            gmail: GmailProvider(
                endpoints: endpoints, directory: directory, http: http, admission: admission, clock: clock,
                quotaUnitsPerMinute: gmailQuotaUnitsPerMinute
            ),
            directory: directory
        )
    }

    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        try await dispatch(job.connectionId) { try await $0.prepare(job) }
    }

    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        try await dispatch(job.connectionId) { try await $0.fetchPage(job, cursor: cursor) }
    }

    public func finish(_ job: BackfillJob) async throws {
        try await dispatch(job.connectionId) { try await $0.finish(job) }
    }

    public func catchUp(connectionId: String, into store: any MessageStore) async throws -> CatchUpResult {
        try await dispatch(connectionId) { try await $0.catchUp(connectionId: connectionId, into: store) }
    }

    public func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
    {
        try await dispatch(connectionId) {
            try await $0.ensureSubscription(connectionId: connectionId, notificationURL: notificationURL, clientState: clientState)
        }
    }

    public func refetch(
        _ skipped: [SkippedMessage], connectionId: String
    ) async throws -> (stored: [StoredMessage], stillSkipped: [SkippedMessage]) {
        try await dispatch(connectionId) { try await $0.refetch(skipped, connectionId: connectionId) }
    }

    public func auditCounts(connectionId: String, window: DateWindow) async throws -> [FolderKind: Int]? {
        try await dispatch(connectionId) { try await $0.auditCounts(connectionId: connectionId, window: window) }
    }

    public func auditIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>] {
        try await dispatch(connectionId) { try await $0.auditIds(connectionId: connectionId, window: window) }
    }

    /// Runs `body` on the connection's provider. A shared mailbox borrows its parent's token: while the
    /// parent is in error or disconnected, or when the parent's token is refused, the shared mailbox waits
    /// on its parent instead of failing by itself. An app-only connection stands alone.
    func dispatch<T: Sendable>(
        _ connectionId: String, _ body: (any Routed) async throws -> T
    ) async throws -> T {
        guard let connection = try await directory.connection(connectionId) else {
            throw ProviderFailure.permissionLost("unknown connection")
        }
        let provider: any Routed = switch connection.provider {
        case .graph: graph
        case .gmail: gmail
        }
        return try await RoutedConnection.$current.withValue(connection) {
            try await dispatch(connection, on: provider, body)
        }
    }

    private func dispatch<T: Sendable>(
        _ connection: Connection, on provider: any Routed,
        _ body: (any Routed) async throws -> T
    ) async throws -> T {
        guard connection.auth == .delegated, let parentId = connection.parentId else { return try await body(provider) }
        guard let parent = try await directory.connection(parentId) else {
            throw ProviderFailure.permissionLost("the parent connection was removed")
        }
        if parent.health == .error || parent.health == .disconnected {
            throw ProviderFailure.parentUnavailable(parent.address)
        }
        do {
            return try await body(provider)
        } catch ProviderFailure.tokenExpired(let detail) {
            // The token is the parent's: its own card must say so, not only the shared mailbox's.
            try await directory.recordRefusal(
                of: parentId, code: .tokenExpired, message: ProviderFailure.tokenExpired(detail).message
            )
            throw ProviderFailure.parentUnavailable(parent.address)
        }
    }
}
