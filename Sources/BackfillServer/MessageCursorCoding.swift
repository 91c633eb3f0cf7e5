import BackfillCore
import Foundation

/// The `after` cursor of the messages API: the store's keyset position, as opaque base64url JSON.
/// A cursor is client input: it is decoded fully validated, and anything a page could not have ended at
/// (a time outside the store's range, an empty or oversized id, control characters) is a 400.
enum MessageCursorCoding {
    private struct Position: Codable {
        var r: Int64
        var p: String
    }

    /// Received times a stored message can have, in ms since 1970: the store refuses dates further than
    /// about 3,000 years from 1970 (`StoreTime.maximumSecondsFrom1970` there), so no page ends outside this.
    static let receivedRange: ClosedRange<Int64> = -100_000_000_000_000...100_000_000_000_000

    static func encode(_ cursor: MessagePageCursor) -> String {
        let position = Position(r: Int64((cursor.receivedAt.timeIntervalSince1970 * 1000).rounded()), p: cursor.providerMessageId)
        let data = (try? JSONEncoder().encode(position)) ?? Data()
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) throws(APIError) -> MessagePageCursor {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard text.utf8.count <= 2048, let data = Data(base64Encoded: base64),
              let position = try? JSONDecoder().decode(Position.self, from: data),
              receivedRange.contains(position.r),
              !position.p.isEmpty, position.p.utf8.count <= 1024,
              !position.p.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw APIError(.badRequest, code: "invalid_cursor", message: "'after' is not a cursor this API handed out")
        }
        return MessagePageCursor(receivedAt: Date(timeIntervalSince1970: Double(position.r) / 1000), providerMessageId: position.p)
    }
}
