import BackfillCore
import Foundation
import PostgresNIO

/// One `message` row as `PostgresMessageStore` selects it (`columns`), before its attachments are added.
struct PostgresMessageRow: Sendable {
    var id: Int64
    var seq: Int64
    var message: StoredMessage

    init(_ row: PostgresRow, decoder: JSONDecoder) throws {
        let cells = row.makeRandomAccess()
        let folderName = try cells[3].decode(String.self)
        let sourceName = try cells[14].decode(String.self)
        guard let folder = FolderKind(rawValue: folderName) else { throw Self.unreadable("folder") }
        guard let source = MessageSource(rawValue: sourceName) else { throw Self.unreadable("source") }
        id = try cells[0].decode(Int64.self)
        seq = try cells[16].decode(Int64.self)
        message = StoredMessage(
            connectionId: try cells[1].decode(String.self),
            providerMessageId: try cells[2].decode(String.self),
            folder: folder,
            internetMessageId: try cells[4].decode(String?.self),
            conversationId: try cells[5].decode(String?.self),
            subject: try cells[6].decode(String?.self),
            from: try cells[7].decode(String?.self),
            to: try RecipientList.decode(cells[8].decode(String.self), with: decoder),
            cc: try RecipientList.decode(cells[9].decode(String.self), with: decoder),
            receivedAt: StoreTime.date(milliseconds: try cells[10].decode(Int64.self)),
            sentAt: try cells[11].decode(Int64?.self).map(StoreTime.date(milliseconds:)),
            snippet: try cells[12].decode(String?.self),
            hasAttachments: try cells[13].decode(Bool.self),
            source: source,
            backfillId: try cells[15].decode(String?.self)
        )
    }

    private static func unreadable(_ column: String) -> MessageStoreError {
        MessageStoreError(code: .unreadableRow, message: "a stored message has an unknown value in column \(column)")
    }
}
