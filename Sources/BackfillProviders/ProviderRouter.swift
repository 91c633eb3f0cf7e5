import BackfillCore
import BackfillHTTP

/// The provider the scheduler and server talk to: dispatches each call to Graph or Gmail by the
/// connection's `provider` in the directory.
public struct ProviderRouter: MailProvider, RealtimeSync {
    public let graph: GraphProvider
    public let gmail: GmailProvider
    private let directory: any ConnectionDirectory

    public init(graph: GraphProvider, gmail: GmailProvider, directory: any ConnectionDirectory) {
        self.graph = graph
        self.gmail = gmail
        self.directory = directory
    }

    /// Both providers over one HTTP client, one directory and one set of request slots.
    public init(
        endpoints: ProviderEndpoints, directory: any ConnectionDirectory, http: HTTPClient, slots: any RequestSlots,
        clock: any WallClock = SystemWallClock()
    ) {
        self.init(
            graph: GraphProvider(endpoints: endpoints, directory: directory, http: http, slots: slots, clock: clock),
            gmail: GmailProvider(endpoints: endpoints, directory: directory, http: http, slots: slots, clock: clock),
            directory: directory
        )
    }

    public func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        try await provider(job.connectionId).prepare(job)
    }

    public func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        try await provider(job.connectionId).fetchPage(job, cursor: cursor)
    }

    public func finish(_ job: BackfillJob) async throws {
        try await provider(job.connectionId).finish(job)
    }

    public func catchUp(connectionId: String) async throws -> CatchUpResult {
        try await provider(connectionId).catchUp(connectionId: connectionId)
    }

    public func ensureSubscription(connectionId: String, notificationURL: String, clientState: String) async throws
        -> SubscriptionStatus
    {
        try await provider(connectionId).ensureSubscription(
            connectionId: connectionId, notificationURL: notificationURL, clientState: clientState
        )
    }

    private func provider(_ connectionId: String) async throws -> any MailProvider & RealtimeSync {
        guard let connection = try await directory.connection(connectionId) else {
            throw ProviderFailure.permissionLost("unknown connection")
        }
        switch connection.provider {
        case .graph: return graph
        case .gmail: return gmail
        }
    }
}
