import BackfillCore
import Foundation
import GRDB

extension StoredMessage {
    /// The columns `init(row:attachments:decoder:)` reads, in the order of a `SELECT`.
    static let selectedColumns = """
        id, connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,
        from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments, source, backfill_id, seq
        """

    /// Builds a message from a `message` row read with `selectedColumns`.
    init(row: Row, attachments: [AttachmentMetadata], decoder: JSONDecoder) throws {
        let folderName: String = try row.decode(forColumn: "folder")
        let sourceName: String = try row.decode(forColumn: "source")
        guard let folder = FolderKind(rawValue: folderName) else { throw Self.unreadable("folder") }
        guard let source = MessageSource(rawValue: sourceName) else { throw Self.unreadable("source") }
        let sentAt: Int64? = try row.decode(forColumn: "sent_at")
        self.init(
            connectionId: try row.decode(forColumn: "connection_id"),
            providerMessageId: try row.decode(forColumn: "provider_message_id"),
            folder: folder,
            internetMessageId: try row.decode(forColumn: "internet_message_id"),
            conversationId: try row.decode(forColumn: "conversation_id"),
            subject: try row.decode(forColumn: "subject"),
            from: try row.decode(forColumn: "from_address"),
            to: try RecipientList.decode(row.decode(forColumn: "to_addresses"), with: decoder),
            cc: try RecipientList.decode(row.decode(forColumn: "cc_addresses"), with: decoder),
            receivedAt: StoreTime.date(milliseconds: try row.decode(forColumn: "received_at")),
            sentAt: sentAt.map(StoreTime.date(milliseconds:)),
            snippet: try row.decode(forColumn: "snippet"),
            hasAttachments: try row.decode(forColumn: "has_attachments"),
            attachments: attachments,
            source: source,
            backfillId: try row.decode(forColumn: "backfill_id")
        )
    }

    private static func unreadable(_ column: String) -> MessageStoreError {
        MessageStoreError(code: .unreadableRow, message: "a stored message has an unknown value in column \(column)")
    }
}
