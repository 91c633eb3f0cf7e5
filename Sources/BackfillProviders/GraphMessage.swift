import BackfillCore
import Foundation

/// A message as Graph returns it for the stored `$select` (docs/providers.md, Graph listing), possibly with expanded
/// attachment metadata, or a delta `@removed` marker.
struct GraphMessage: Decodable, Sendable {
    struct Recipient: Decodable, Sendable {
        struct EmailAddress: Decodable, Sendable {
            var address: String?
        }
        var emailAddress: EmailAddress?
    }

    struct Attachment: Decodable, Sendable {
        var id: String
        var name: String?
        var size: Int?
        var contentType: String?

        var metadata: AttachmentMetadata {
            AttachmentMetadata(
                providerPartId: id, name: name ?? "", size: size ?? 0, contentType: contentType ?? "application/octet-stream"
            )
        }
    }

    struct Removed: Decodable, Sendable {}

    var id: String
    var internetMessageId: String?
    var conversationId: String?
    var subject: String?
    var from: Recipient?
    var toRecipients: [Recipient]?
    var ccRecipients: [Recipient]?
    var receivedDateTime: String?
    var sentDateTime: String?
    var hasAttachments: Bool?
    var bodyPreview: String?
    var isDraft: Bool?
    var attachments: [Attachment]?
    var removed: Removed?

    enum CodingKeys: String, CodingKey {
        case id, internetMessageId, conversationId, subject, from, toRecipients, ccRecipients, receivedDateTime
        case sentDateTime, hasAttachments, bodyPreview, isDraft, attachments
        case removed = "@removed"
    }

    /// Whether this item is mail to store: not a delta removal, not a draft.
    var isStorable: Bool { removed == nil && isDraft != true }

    /// The stored form, fitted for the store (`fittedForStore`); nil when `receivedDateTime` is missing or
    /// unreadable, or the id or time cannot be stored.
    func stored(connectionId: String, folder: FolderKind, source: MessageSource) -> StoredMessage? {
        guard let receivedDateTime, let receivedAt = GraphDate.parse(receivedDateTime) else { return nil }
        let attachments = (attachments ?? []).map(\.metadata)
        return StoredMessage(
            connectionId: connectionId, providerMessageId: id, folder: folder, internetMessageId: internetMessageId,
            conversationId: conversationId, subject: subject, from: from?.emailAddress?.address,
            to: (toRecipients ?? []).compactMap { $0.emailAddress?.address },
            cc: (ccRecipients ?? []).compactMap { $0.emailAddress?.address },
            receivedAt: receivedAt, sentAt: sentDateTime.flatMap(GraphDate.parse), snippet: bodyPreview,
            hasAttachments: hasAttachments == true || !attachments.isEmpty, attachments: attachments, source: source
        ).fittedForStore()
    }
}

/// One page of a Graph collection.
struct GraphPage<Item: Decodable & Sendable>: Decodable, Sendable {
    var value: [Item]
    var nextLink: String?
    var deltaLink: String?

    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
        case deltaLink = "@odata.deltaLink"
    }
}

/// A mail folder, as far as the folder walk needs it.
struct GraphFolderItem: Decodable, Sendable {
    var id: String
    var childFolderCount: Int?
}
