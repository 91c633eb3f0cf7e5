import BackfillCore
import Foundation

/// The `after` cursor of the messages API: the store's keyset position, as opaque base64url JSON.
enum MessageCursorCoding {
    private struct Position: Codable {
        var r: Int64
        var p: String
    }

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
        guard text.count <= 2048, let data = Data(base64Encoded: base64),
              let position = try? JSONDecoder().decode(Position.self, from: data), !position.p.isEmpty
        else {
            throw APIError(.badRequest, code: "invalid_cursor", message: "'after' is not a cursor this API handed out")
        }
        return MessagePageCursor(receivedAt: Date(timeIntervalSince1970: Double(position.r) / 1000), providerMessageId: position.p)
    }
}
