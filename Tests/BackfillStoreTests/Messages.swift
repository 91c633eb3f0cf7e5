import BackfillCore
import Foundation

/// Test messages whose times are whole minutes, as providers give them (the store keeps milliseconds).
enum Messages {
    static let baseTime = Date(timeIntervalSince1970: 1_700_000_000)

    static func make(
        _ id: String, connection: String = "conn-a", minute: Int = 0, attachments: [AttachmentMetadata] = []
    ) -> StoredMessage {
        StoredMessage(
            connectionId: connection, providerMessageId: id, folder: .inbox, subject: "Subject \(id)",
            from: "sender@example.com", to: ["to@example.com"],
            receivedAt: baseTime.addingTimeInterval(Double(minute) * 60),
            hasAttachments: !attachments.isEmpty, attachments: attachments, source: .backfill)
    }

    /// Messages `m<i>` received at minute `i`.
    static func batch(_ ids: ClosedRange<Int>, connection: String = "conn-a") -> [StoredMessage] {
        ids.map { make("m\($0)", connection: connection, minute: $0) }
    }
}
