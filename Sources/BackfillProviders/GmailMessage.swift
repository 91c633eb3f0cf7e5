import BackfillCore
import Foundation

/// A message as `messages.get?format=full` returns it through the `fields` projection (docs/providers.md, Gmail listing).
struct GmailMessage: Decodable, Sendable {
    struct Header: Decodable, Sendable {
        var name: String
        var value: String
    }

    struct Body: Decodable, Sendable {
        var size: Int?
        var attachmentId: String?
    }

    struct Part: Decodable, Sendable {
        var partId: String?
        var mimeType: String?
        var filename: String?
        var headers: [Header]?
        var body: Body?
        var parts: [Part]?
    }

    var id: String
    var threadId: String?
    var labelIds: [String]?
    var snippet: String?
    var internalDate: String?
    var payload: Part?

    /// The `fields` projection: no body data, the MIME tree four levels deep.
    static let fields: String = {
        let leaf = "partId,mimeType,filename,headers,body(size,attachmentId)"
        let level3 = "\(leaf),parts(\(leaf))"
        let level2 = "\(leaf),parts(\(level3))"
        let level1 = "\(leaf),parts(\(level2))"
        return "id,threadId,labelIds,snippet,internalDate,payload(\(level1))"
    }()

    var labels: Set<String> { Set(labelIds ?? []) }

    /// `internalDate` (epoch milliseconds): when Google accepted the mail.
    var receivedAt: Date? {
        internalDate.flatMap(Int64.init).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
    }

    func stored(connectionId: String, folder: FolderKind, source: MessageSource) -> StoredMessage? {
        guard let receivedAt else { return nil }
        let headers = payload?.headers ?? []
        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        let attachments = payload.map(Self.attachments(in:)) ?? []
        return StoredMessage(
            connectionId: connectionId, providerMessageId: id, folder: folder, internetMessageId: header("Message-ID"),
            conversationId: threadId, subject: header("Subject"), from: header("From").flatMap { EmailAddressList.parse($0).first },
            to: header("To").map(EmailAddressList.parse) ?? [], cc: header("Cc").map(EmailAddressList.parse) ?? [],
            receivedAt: receivedAt, sentAt: header("Date").flatMap(MailDate.parse), snippet: snippet,
            hasAttachments: !attachments.isEmpty, attachments: attachments, source: source
        )
    }

    /// Parts with a file name or a separately stored body, keyed by part id (attachment ids change on
    /// every fetch, docs/providers.md, Gmail listing).
    private static func attachments(in part: Part) -> [AttachmentMetadata] {
        var found: [AttachmentMetadata] = []
        let name = part.filename ?? ""
        if let partId = part.partId, !name.isEmpty || part.body?.attachmentId != nil {
            found.append(
                AttachmentMetadata(
                    providerPartId: partId, name: name, size: part.body?.size ?? 0,
                    contentType: part.mimeType ?? "application/octet-stream"
                )
            )
        }
        for child in part.parts ?? [] {
            found += attachments(in: child)
        }
        return found
    }
}

/// One page of `messages.list` (ids only; no `messages` key when nothing matched).
struct GmailMessageList: Decodable, Sendable {
    struct Reference: Decodable, Sendable {
        var id: String
    }
    var messages: [Reference]?
    var nextPageToken: String?
}
