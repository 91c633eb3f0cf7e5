import BackfillCore
import Foundation
import Testing

@Suite("A provider's message fitted for the store")
struct StoredMessageFittingTests {
    static let received = Date(timeIntervalSince1970: 1_700_000_000)

    static func message(_ change: (inout StoredMessage) -> Void = { _ in }) -> StoredMessage {
        var message = StoredMessage(
            connectionId: "c1", providerMessageId: "m1", folder: .inbox, subject: "Hello", receivedAt: received,
            sentAt: received.addingTimeInterval(-60), hasAttachments: true,
            attachments: [AttachmentMetadata(providerPartId: "1", name: "a.pdf", size: 10, contentType: "application/pdf")],
            source: .backfill)
        change(&message)
        return message
    }

    @Test("a storable message comes back unchanged")
    func unchanged() {
        #expect(Self.message().fittedForStore() == Self.message())
        #expect(Self.message { $0.attachments[0].providerPartId = "" }.fittedForStore()?.attachments.first?.providerPartId == "",
                "Gmail's top-level part")
    }

    @Test("a sent time out of range is left out; the message is kept and the store takes it")
    func sentTimeOutOfRange() throws {
        let far = Date(timeIntervalSince1970: 253_402_300_799)  // 9999-12-31T23:59:59Z
        let fitted = try #require(Self.message { $0.sentAt = far }.fittedForStore())
        #expect(fitted == Self.message { $0.sentAt = nil })
        #expect(fitted.problem == nil)
        #expect(Self.message { $0.sentAt = far }.problem == "sentAt is out of range")
    }

    @Test("attachments the store would refuse are left out (a NUL in the part id, a repeated part id); a negative size is 0")
    func attachments() throws {
        let odd = Self.message {
            $0.attachments = [
                AttachmentMetadata(providerPartId: "1", name: "a.pdf", size: -1, contentType: "application/pdf"),
                AttachmentMetadata(providerPartId: "1", name: "again.pdf", size: 5, contentType: "application/pdf"),
                AttachmentMetadata(providerPartId: "2\u{0}", name: "nul.pdf", size: 5, contentType: "application/pdf"),
                AttachmentMetadata(providerPartId: "3", name: "c.txt", size: 7, contentType: "text/plain"),
            ]
        }
        let fitted = try #require(odd.fittedForStore())
        #expect(fitted.attachments == [
            AttachmentMetadata(providerPartId: "1", name: "a.pdf", size: 0, contentType: "application/pdf"),
            AttachmentMetadata(providerPartId: "3", name: "c.txt", size: 7, contentType: "text/plain"),
        ])
        #expect(fitted.hasAttachments)
        #expect(fitted.problem == nil)
    }

    /// A case described by its name: Foundation cannot describe the out-of-range dates some hold.
    struct Unstorable: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let message: StoredMessage
    }

    @Test("a message without a usable id or received time cannot be stored at all", arguments: [
        Unstorable(testDescription: "empty id", message: message { $0.providerMessageId = "" }),
        Unstorable(testDescription: "blank id", message: message { $0.providerMessageId = " \t" }),
        Unstorable(testDescription: "id with a NUL", message: message { $0.providerMessageId = "m\u{0}" }),
        Unstorable(testDescription: "empty connection id", message: message { $0.connectionId = "" }),
        Unstorable(testDescription: "received 6,000 years on", message: message { $0.receivedAt = Date(timeIntervalSince1970: 2e11) }),
        Unstorable(testDescription: "received at NaN", message: message { $0.receivedAt = Date(timeIntervalSince1970: .nan) }),
    ])
    func unstorable(_ unstorable: Unstorable) {
        #expect(unstorable.message.fittedForStore() == nil)
        #expect(unstorable.message.problem != nil)
    }
}
