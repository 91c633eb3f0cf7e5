/// What the scheduler's workers need from a mail provider (Graph, Gmail, or a test double). The
/// provider owns its credentials and its cursor format: the scheduler stores cursors as opaque strings.
/// Every error a provider throws should be a `ProviderFailure`; anything else counts as transient.
public protocol MailProvider: Sendable {
    /// Runs once before the first page: takes the real-time cursor, ensures the subscription or watch,
    /// and estimates how many messages the window holds.
    func prepare(_ job: BackfillJob) async throws -> BackfillPreparation
    /// Fetches the page at `cursor` (nil: the first page). Pages of one backfill never overlap, so the
    /// sum of their sizes is the exact number of messages pulled.
    func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage
    /// Runs once after the last page: writes the final real-time cursor and ensures the subscription.
    func finish(_ job: BackfillJob) async throws
}

/// The scheduler's description of the work, handed to the provider.
public struct BackfillJob: Sendable, Equatable {
    public var connectionId: String
    public var backfillId: String
    public var window: DateWindow

    public init(connectionId: String, backfillId: String, window: DateWindow) {
        self.connectionId = connectionId
        self.backfillId = backfillId
        self.window = window
    }
}

public struct BackfillPreparation: Sendable, Equatable {
    public var estimatedTotal: Int
    /// Where the first page starts when the preparation already worked it out (Graph's streams, cut by the
    /// counts it just took); nil: the first page starts from nothing. The first page of a slice that ends before
    /// any commit starts from nothing again, so a provider must accept both.
    public var firstCursor: String?

    public init(estimatedTotal: Int, firstCursor: String? = nil) {
        self.estimatedTotal = estimatedTotal
        self.firstCursor = firstCursor
    }
}

public struct BackfillPage: Sendable {
    public var messages: [StoredMessage]
    /// Where the next page starts; nil when this was the last page.
    public var nextCursor: String?
    /// Messages of the page the provider refused to serve, skipped after their bounded sends.
    public var skipped: [SkippedMessage]

    public init(messages: [StoredMessage], nextCursor: String?, skipped: [SkippedMessage] = []) {
        self.messages = messages
        self.nextCursor = nextCursor
        self.skipped = skipped
    }
}

/// A provider that can fetch skipped messages again (`SkippedMessage`): "retry skipped".
public protocol SkippedMessageFetcher: Sendable {
    /// Fetches `skipped` again: the messages it now serves (inside no window: the user asked for them), and those
    /// it still refuses, with their new errors. A message deleted meanwhile is in neither.
    func refetch(_ skipped: [SkippedMessage], connectionId: String) async throws -> (stored: [StoredMessage], stillSkipped: [SkippedMessage])
}
