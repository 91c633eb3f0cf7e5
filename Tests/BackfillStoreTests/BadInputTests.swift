import BackfillCore
import Foundation
import Testing

@Suite("Bad input to the message store")
struct BadInputTests {
    static let part = AttachmentMetadata(providerPartId: "p1", name: "a", size: 1, contentType: "text/plain")

    /// A message that breaks one rule, and the error text expected for it as the second of a batch.
    /// Described by that text: Foundation cannot describe the out-of-range dates some cases hold.
    struct BadMessage: Sendable, CustomTestStringConvertible {
        let message: StoredMessage
        let expectedText: String
        var testDescription: String { expectedText }

        /// `problem` is what the error says after naming the message's position.
        init(_ message: StoredMessage, _ problem: String) {
            self.message = message
            expectedText = "message 1 of the batch: " + problem
        }
    }

    static let cases: [BadMessage] = [
        BadMessage(with { $0.connectionId = "" }, "connectionId is empty or holds a NUL character"),
        BadMessage(with { $0.providerMessageId = "" }, "providerMessageId is empty or holds a NUL character"),
        BadMessage(with { $0.providerMessageId = "  \t" }, "providerMessageId is empty or holds a NUL character"),
        BadMessage(
            with { $0.providerMessageId = "abc\0def" }, "providerMessageId is empty or holds a NUL character"),
        BadMessage(with { $0.receivedAt = Date(timeIntervalSince1970: .nan) }, "receivedAt is out of range"),
        BadMessage(with { $0.sentAt = .distantFuture.addingTimeInterval(1e12) }, "sentAt is out of range"),
        BadMessage(
            with { $0.attachments = [AttachmentMetadata(providerPartId: "0\u{0}1", name: "a", size: 1, contentType: "x")] },
            "attachment 0 has a providerPartId with a NUL character"
        ),
        BadMessage(
            with { $0.attachments = [AttachmentMetadata(providerPartId: "p", name: "a", size: -1, contentType: "x")] },
            "attachment 0 has a negative size"
        ),
        BadMessage(
            with { $0.attachments = [part, part] },
            "attachment 1 repeats the providerPartId of an earlier attachment"
        ),
    ]

    static func with(_ change: (inout StoredMessage) -> Void) -> StoredMessage {
        var message = Messages.make("bad")
        change(&message)
        return message
    }

    @Test("a message that breaks a rule is refused with a clear error and nothing of its batch is stored",
          arguments: StoreKind.allCases, cases)
    func refused(kind: StoreKind, bad: BadMessage) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            let error = await #expect(throws: MessageStoreError.self) {
                try await store.insert([Messages.make("good"), bad.message])
            }
            #expect(error?.code == .invalidMessage)
            #expect(error?.message == bad.expectedText)
            #expect(try await store.count(connectionId: "conn-a") == 0)
            #expect(try await store.count(connectionId: "") == 0)
            #expect(try await store.changes(after: 0, limit: 10).changes.isEmpty)
        }
    }
}
