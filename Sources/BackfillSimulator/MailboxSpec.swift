import Foundation

/// One mailbox of a scenario: who owns it and what history gets generated in it.
public struct MailboxSpec: Codable, Sendable {
    public enum Provider: String, Codable, Sendable { case graph, gmail }
    public enum Kind: String, Codable, Sendable { case personal, shared }

    public var provider: Provider
    public var address: String
    public var kind: Kind
    /// For a shared mailbox: the personal mailbox whose delegated token may read it.
    public var owner: String?
    public var messageCount: Int
    /// How received times spread over the past.
    public var spread: TimeSpread
    /// How messages split over folders.
    public var folders: FolderShares
    /// Share of messages with attachments, and of those, the share whose attachments are all inline.
    public var attachmentShare: Double
    public var inlineOnlyShare: Double
    /// Overrides the scenario seed for this mailbox.
    public var seed: UInt64?

    public init(
        provider: Provider,
        address: String,
        kind: Kind = .personal,
        owner: String? = nil,
        messageCount: Int,
        spread: TimeSpread = TimeSpread(),
        folders: FolderShares = FolderShares(),
        attachmentShare: Double = 0.2,
        inlineOnlyShare: Double = 0.25,
        seed: UInt64? = nil
    ) {
        self.provider = provider
        self.address = address
        self.kind = kind
        self.owner = owner
        self.messageCount = messageCount
        self.spread = spread
        self.folders = folders
        self.attachmentShare = attachmentShare
        self.inlineOnlyShare = inlineOnlyShare
        self.seed = seed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        provider = try container.decode(Provider.self, forKey: .provider)
        address = try container.decode(String.self, forKey: .address)
        kind = try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .personal
        owner = try container.decodeIfPresent(String.self, forKey: .owner)
        messageCount = try container.decode(Int.self, forKey: .messageCount)
        spread = try container.decodeIfPresent(TimeSpread.self, forKey: .spread) ?? TimeSpread()
        folders = try container.decodeIfPresent(FolderShares.self, forKey: .folders) ?? FolderShares()
        attachmentShare = try container.decodeIfPresent(Double.self, forKey: .attachmentShare) ?? 0.2
        inlineOnlyShare = try container.decodeIfPresent(Double.self, forKey: .inlineOnlyShare) ?? 0.25
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
    }
}

/// Received times: spread over `days` before now, with `recentShare` of them in the last `recentDays`.
public struct TimeSpread: Codable, Sendable {
    public var days: Int
    public var recentDays: Int
    public var recentShare: Double

    public init(days: Int = 730, recentDays: Int = 90, recentShare: Double = 0.35) {
        self.days = days
        self.recentDays = recentDays
        self.recentShare = recentShare
    }
}

/// Relative weights of the folders messages are put in (normalised; they need not sum to 1).
public struct FolderShares: Codable, Sendable {
    public var inbox: Double
    /// A child folder of Inbox ("Inbox/Projects"); Graph clients must walk childFolders to find it.
    public var inboxChild: Double
    public var sent: Double
    public var drafts: Double
    public var archive: Double
    public var custom: Double

    public init(
        inbox: Double = 0.55, inboxChild: Double = 0.08, sent: Double = 0.22,
        drafts: Double = 0.02, archive: Double = 0.08, custom: Double = 0.05
    ) {
        self.inbox = inbox
        self.inboxChild = inboxChild
        self.sent = sent
        self.drafts = drafts
        self.archive = archive
        self.custom = custom
    }

    var weights: [Double] { [inbox, inboxChild, sent, drafts, archive, custom] }

    func validate(address: String) throws {
        guard weights.allSatisfy({ $0 >= 0 && $0.isFinite }), weights.reduce(0, +) > 0 else {
            throw SimulatorError.invalidScenario("folder shares of \(address) must be non-negative, not all zero")
        }
    }
}
