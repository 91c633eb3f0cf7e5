import Foundation

/// Which of the pulled folders a message came from. Only Inbox (and inbox-flagged folders) and Sent are
/// ever pulled.
public enum FolderKind: String, Sendable, Codable, CaseIterable {
    case inbox
    case sent
}

/// How a message reached the store: by the history backfill or by the real-time (webhook/delta) path.
public enum MessageSource: String, Sendable, Codable, CaseIterable {
    case backfill
    case realtime
}

/// Metadata of one attachment. Attachment bytes are never stored. Keyed by (message, provider part id),
/// because Gmail's attachment ids change on every fetch.
public struct AttachmentMetadata: Sendable, Hashable, Codable {
    public var providerPartId: String
    public var name: String
    public var size: Int
    public var contentType: String

    public init(providerPartId: String, name: String, size: Int, contentType: String) {
        self.providerPartId = providerPartId
        self.name = name
        self.size = size
        self.contentType = contentType
    }
}

/// One message as the store keeps it. Unique on (connectionId, providerMessageId).
public struct StoredMessage: Sendable, Hashable, Codable {
    public var connectionId: String
    /// Graph immutable id or Gmail id.
    public var providerMessageId: String
    public var folder: FolderKind
    public var internetMessageId: String?
    /// Graph conversationId or Gmail threadId.
    public var conversationId: String?
    public var subject: String?
    public var from: String?
    public var to: [String]
    public var cc: [String]
    public var receivedAt: Date
    public var sentAt: Date?
    public var snippet: String?
    public var hasAttachments: Bool
    public var attachments: [AttachmentMetadata]
    public var source: MessageSource
    /// The backfill that stored the message (set by the worker on backfill pages); nil for real-time mail.
    public var backfillId: String?

    public init(
        connectionId: String, providerMessageId: String, folder: FolderKind, internetMessageId: String? = nil,
        conversationId: String? = nil, subject: String? = nil, from: String? = nil, to: [String] = [],
        cc: [String] = [], receivedAt: Date, sentAt: Date? = nil, snippet: String? = nil,
        hasAttachments: Bool = false, attachments: [AttachmentMetadata] = [], source: MessageSource,
        backfillId: String? = nil
    ) {
        self.connectionId = connectionId
        self.providerMessageId = providerMessageId
        self.folder = folder
        self.internetMessageId = internetMessageId
        self.conversationId = conversationId
        self.subject = subject
        self.from = from
        self.to = to
        self.cc = cc
        self.receivedAt = receivedAt
        self.sentAt = sentAt
        self.snippet = snippet
        self.hasAttachments = hasAttachments
        self.attachments = attachments
        self.source = source
        self.backfillId = backfillId
    }
}
