import BackfillCore
import BackfillScheduler
import Foundation

/// A connection as the API (and its event stream) shows it. Every key is always present.
public struct ConnectionView: Codable, Sendable, Equatable {
    public var id: String
    public var provider: ProviderKind
    public var address: String
    public var parentId: String?
    public var parentAddress: String?
    public var health: ConnectionHealth
    public var error: ProblemView?
    public var backfill: BackfillView?
    /// How new mail arrives (push or poll) and when it last did; nil until the push channel was looked at. Its
    /// `failing` shows once catch-ups have failed `RealtimeFailing.shownAfter` times in a row (new mail is late).
    public var realtime: RealtimeStatus?
    /// Whose token reads the mailbox: its own (or its parent's) delegated tokens, or the service's app.
    public var auth: ConnectionAuth

    init(_ connection: Connection, parentAddress: String?, backfill record: BackfillRecord?, leaseHeld: Bool = false, now: Date) {
        id = connection.id
        provider = connection.provider
        address = connection.address
        parentId = connection.parentId
        self.parentAddress = parentAddress
        health = Self.health(stored: connection.health, backfill: record?.state)
        error = connection.errorCode.map {
            ProblemView(code: $0, message: connection.errorMessage ?? "", retryable: $0.isRetryable)
        }
        backfill = record.map { BackfillView($0, leaseHeld: leaseHeld, now: now) }
        realtime = connection.realtime.map { status in
            var shown = status
            if status.failing?.isShown != true { shown.failing = nil }
            return shown
        }
        auth = connection.auth
    }

    /// What the badge shows: a health someone must act on wins; otherwise the backfill decides.
    static func health(stored: ConnectionHealth, backfill: BackfillState?) -> ConnectionHealth {
        switch stored {
        case .error, .disconnected, .waitingOnParent: return stored
        case .healthy, .syncing: break
        }
        switch backfill {
        case .queued, .running, .throttled: return .syncing
        case .waitingOnParent: return .waitingOnParent
        case .paused, .completed, .cancelled, .failed, nil: return .healthy
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, provider, address, parentId, parentAddress, health, error, backfill, realtime, auth
    }

    /// A view from a server older than `auth` reads as delegated.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        provider = try container.decode(ProviderKind.self, forKey: .provider)
        address = try container.decode(String.self, forKey: .address)
        parentId = try container.decodeIfPresent(String.self, forKey: .parentId)
        parentAddress = try container.decodeIfPresent(String.self, forKey: .parentAddress)
        health = try container.decode(ConnectionHealth.self, forKey: .health)
        error = try container.decodeIfPresent(ProblemView.self, forKey: .error)
        backfill = try container.decodeIfPresent(BackfillView.self, forKey: .backfill)
        realtime = try container.decodeIfPresent(RealtimeStatus.self, forKey: .realtime)
        auth = try container.decodeIfPresent(ConnectionAuth.self, forKey: .auth) ?? .delegated
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(provider, forKey: .provider)
        try container.encode(address, forKey: .address)
        try container.encode(parentId, forKey: .parentId)
        try container.encode(parentAddress, forKey: .parentAddress)
        try container.encode(health, forKey: .health)
        try container.encode(error, forKey: .error)
        try container.encode(backfill, forKey: .backfill)
        try container.encode(realtime, forKey: .realtime)
        try container.encode(auth, forKey: .auth)
    }
}

/// `GET /v1/connections`: a page, and the `after` of the next one (null on the last).
public struct ConnectionList: Codable, Sendable {
    public var connections: [ConnectionView]
    public var next: String?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(connections, forKey: .connections)
        try container.encode(next, forKey: .next)  // null on the last page
    }
}
