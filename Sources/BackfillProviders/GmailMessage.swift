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

    /// The stored form, fitted for the store (`fittedForStore`); nil without `internalDate`, or when the id or
    /// time cannot be stored.
    func stored(connectionId: String, folder: FolderKind, source: MessageSource) -> StoredMessage? {
        guard let receivedAt else { return nil }
        let headers = payload?.headers ?? []
        func header(_ name: String) -> String? {
            headers.first { Self.sameName($0.name, name) }?.value
        }
        let attachments = payload.map(Self.attachments(in:)) ?? []
        return StoredMessage(
            connectionId: connectionId, providerMessageId: id, folder: folder, internetMessageId: header("message-id"),
            conversationId: threadId, subject: header("subject"), from: header("from").flatMap { EmailAddressList.parse($0).first },
            to: header("to").map(EmailAddressList.parse) ?? [], cc: header("cc").map(EmailAddressList.parse) ?? [],
            receivedAt: receivedAt, sentAt: header("date").flatMap(MailDate.parse), snippet: snippet,
            hasAttachments: !attachments.isEmpty, attachments: attachments, source: source
        ).fittedForStore()
    }

    /// Header names compare ignoring ASCII case (RFC 5322); `lower` is already lower case. Byte by byte, not
    /// through Foundation: a message has dozens of headers and seven are looked up.
    static func sameName(_ name: String, _ lower: String) -> Bool {
        name.utf8.count == lower.utf8.count
            && zip(name.utf8, lower.utf8).allSatisfy { byte, wanted in
                byte == wanted || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") && byte + 32 == wanted)
            }
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
