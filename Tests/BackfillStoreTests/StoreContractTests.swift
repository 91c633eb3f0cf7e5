import BackfillCore
import BackfillStore
import Foundation
import Testing

/// The message store's contract: the same test bodies against the SQLite store and the PostgreSQL store
/// (the latter on the server `BACKFILL_TEST_POSTGRES_URL` names; without it those cases fail).
@Suite("Message store contract")
struct StoreContractTests {
    @Test("storing the same batch twice keeps one row each and reports no new messages the second time",
          arguments: StoreKind.allCases)
    func sameBatchTwice(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            let batch = Messages.batch(1...20)
            #expect(try await store.insert(batch) == 20)
            #expect(try await store.insert(batch) == 0)
            #expect(try await store.count(connectionId: "conn-a") == 20)
            #expect(try await store.providerMessageIds(connectionId: "conn-a") == Set(batch.map(\.providerMessageId)))
        }
    }

    @Test("the audit's read: a connection's ids in a half-open window, by folder, other connections left out",
          arguments: StoreKind.allCases)
    func idsInWindow(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            var sent = Messages.batch(11...12)
            for index in sent.indices { sent[index].folder = .sent }
            #expect(try await store.insert(Messages.batch(1...10) + sent + Messages.batch(1...5, connection: "conn-b")) == 17)
            // Minutes 3 to 11, the end left out.
            let window = DateWindow(start: Messages.baseTime.addingTimeInterval(3 * 60), end: Messages.baseTime.addingTimeInterval(12 * 60))
            let ids = try await store.providerMessageIds(connectionId: "conn-a", window: window)
            #expect(ids == [.inbox: Set((3...10).map { "m\($0)" }), .sent: ["m11"]])
            #expect(try await store.providerMessageIds(connectionId: "conn-c", window: window).isEmpty)
        }
    }

    @Test("a batch overlapping an earlier one reports only its new messages, repeats inside a batch count once",
          arguments: StoreKind.allCases)
    func overlappingBatch(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            #expect(try await store.insert(Messages.batch(1...10)) == 10)
            #expect(try await store.insert(Messages.batch(6...15)) == 5)
            #expect(try await store.insert(Messages.batch(16...17) + Messages.batch(16...18)) == 3)
            #expect(try await store.count(connectionId: "conn-a") == 18)
        }
    }

    @Test("a message comes back with every field exact, attachment metadata stored once", arguments: StoreKind.allCases)
    func fieldsAndAttachmentsExact(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            let attachments = [
                AttachmentMetadata(providerPartId: "0.1", name: "report, final.pdf", size: 123_456, contentType: "application/pdf"),
                AttachmentMetadata(providerPartId: "0.2", name: "photo \"ü\".jpg", size: 0, contentType: "image/jpeg"),
                // Gmail's top-level part: a message that is a single file.
                AttachmentMetadata(providerPartId: "", name: "scan.pdf", size: 9, contentType: "application/pdf"),
            ]
            let message = StoredMessage(
                connectionId: "conn-a", providerMessageId: "AAMkAD=", folder: .sent,
                internetMessageId: "<abc@mail.example.com>", conversationId: "thread-9", subject: "Quarterly 📈",
                from: "\"Doe, Jane\" <jane@example.com>", to: ["a@example.com", "\"B, \\\"Bee\\\"\" <b@example.com>"],
                cc: ["c@example.com", "tab\there, bell\u{7} and \\ back\rslash"],
                receivedAt: Date(timeIntervalSince1970: 1_700_000_123.456),
                sentAt: Date(timeIntervalSince1970: 1_700_000_100), snippet: "Line one\nline two",
                hasAttachments: true, attachments: attachments, source: .realtime)
            let bare = StoredMessage(
                connectionId: "conn-a", providerMessageId: "bare", folder: .inbox, receivedAt: Messages.baseTime,
                source: .backfill, backfillId: "bf-1")
            #expect(try await store.insert([message, bare]) == 2)

            // The same message again, with other attachments: the first stored version stays as it was.
            var changed = message
            changed.attachments = [AttachmentMetadata(providerPartId: "9", name: "other", size: 1, contentType: "text/plain")]
            #expect(try await store.insert([changed]) == 0)

            let page = try await store.messages(connectionId: "conn-a", limit: 10, after: nil)
            #expect(page.messages == [message, bare])
            #expect(page.next == nil)
        }
    }

    @Test("a NUL in a message's free text does not refuse its page: it is stored as U+FFFD (PostgreSQL's text cannot hold one)",
          arguments: StoreKind.allCases)
    func nulInFreeText(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            var message = Messages.make("nul")
            message.subject = "Re:\u{0} quarterly"
            message.from = "Jane\u{0} <jane@example.com>"
            message.snippet = "\u{0}"
            message.internetMessageId = "<a\u{0}b@example.com>"
            message.conversationId = "thread\u{0}"
            message.to = ["a\u{0}@example.com"]
            message.hasAttachments = true
            message.attachments = [AttachmentMetadata(providerPartId: "p1", name: "report\u{0}.pdf", size: 3, contentType: "text/plain\u{0}")]
            #expect(try await store.insert([message, Messages.make("plain")]) == 2)
            var expected = message
            expected.subject = "Re:\u{FFFD} quarterly"
            expected.from = "Jane\u{FFFD} <jane@example.com>"
            expected.snippet = "\u{FFFD}"
            expected.internetMessageId = "<a\u{FFFD}b@example.com>"
            expected.conversationId = "thread\u{FFFD}"
            expected.attachments = [AttachmentMetadata(providerPartId: "p1", name: "report\u{FFFD}.pdf", size: 3, contentType: "text/plain\u{FFFD}")]
            // Recipients are stored as JSON, whose escaping carries the NUL as it came.
            let stored = try await store.messages(connectionId: "conn-a", limit: 10, after: nil).messages
            #expect(stored.first { $0.providerMessageId == "nul" } == expected)
            #expect(stored.map(\.providerMessageId).sorted() == ["nul", "plain"])
        }
    }

    @Test("pages come newest first across several pages, in exact order and with no overlap", arguments: StoreKind.allCases)
    func pagingNewestFirst(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            // 25 messages over 8 distinct times, so ties are ordered by provider id (descending), stored in
            // an order unrelated to time.
            let messages = (0..<25).map { Messages.make(String(format: "id-%02d", ($0 * 7) % 25), minute: $0 % 8) }
            #expect(try await store.insert(Array(messages[10...])) == 15)
            #expect(try await store.insert(Array(messages[..<10])) == 10)
            let expected = messages.sorted {
                ($0.receivedAt, $0.providerMessageId) > ($1.receivedAt, $1.providerMessageId)
            }.map(\.providerMessageId)

            var pages: [[String]] = []
            var cursor: MessagePageCursor?
            repeat {
                let page = try await store.messages(connectionId: "conn-a", limit: 10, after: cursor)
                pages.append(page.messages.map(\.providerMessageId))
                cursor = page.next
            } while cursor != nil && pages.count < 10

            #expect(pages.map(\.count) == [10, 10, 5])
            #expect(pages.flatMap { $0 } == expected)
        }
    }

    @Test("a last page that exactly fills its limit has no next cursor", arguments: StoreKind.allCases)
    func exactLastPage(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            #expect(try await store.insert(Messages.batch(1...20)) == 20)
            let first = try await store.messages(connectionId: "conn-a", limit: 10, after: nil)
            let cursor = try #require(first.next)
            #expect(cursor == MessagePageCursor(receivedAt: Messages.baseTime.addingTimeInterval(11 * 60), providerMessageId: "m11"))
            let second = try await store.messages(connectionId: "conn-a", limit: 10, after: cursor)
            #expect(second.messages.map(\.providerMessageId) == (1...10).reversed().map { "m\($0)" })
            #expect(second.next == nil)
        }
    }

    @Test("counts, pages and id sets of two connections do not mix", arguments: StoreKind.allCases)
    func connectionsDoNotMix(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            // The same provider ids under two connections are two different messages.
            #expect(try await store.insert(Messages.batch(1...12, connection: "conn-a")) == 12)
            #expect(try await store.insert(Messages.batch(1...5, connection: "conn-b")) == 5)
            #expect(try await store.count(connectionId: "conn-a") == 12)
            #expect(try await store.count(connectionId: "conn-b") == 5)
            #expect(try await store.count(connectionId: "conn-c") == 0)
            let pageB = try await store.messages(connectionId: "conn-b", limit: 100, after: nil)
            #expect(pageB.messages.map(\.providerMessageId) == (1...5).reversed().map { "m\($0)" })
            #expect(pageB.messages.allSatisfy { $0.connectionId == "conn-b" })
            #expect(try await store.providerMessageIds(connectionId: "conn-b") == Set((1...5).map { "m\($0)" }))
        }
    }

    @Test("opening the store again keeps every message and its attachments (migrations run once)",
          arguments: StoreKind.allCases)
    func reopenKeepsData(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, reopen) async throws in
            let attachment = AttachmentMetadata(providerPartId: "p1", name: "a.txt", size: 3, contentType: "text/plain")
            let batch = Messages.batch(1...30) + [Messages.make("with-file", minute: 99, attachments: [attachment])]
            #expect(try await store.insert(batch) == 31)

            let reopened = try await reopen()
            #expect(try await reopened.count(connectionId: "conn-a") == 31)
            let newest = try await reopened.messages(connectionId: "conn-a", limit: 1, after: nil)
            #expect(newest.messages == [batch.last])
            #expect(try await reopened.insert(batch) == 0)
            #expect(try await reopened.changes(after: 0, limit: 100).changes.map(\.seq) == Array(1...31))
        }
    }

    @Test("a page limit outside 1...1000 is refused with a clear error", arguments: StoreKind.allCases)
    func badPageLimit(kind: StoreKind) async throws {
        try await kind.withStore { (store: any ContractStore, _) async throws in
            for limit in [0, -1, 1001] {
                let error = await #expect(throws: MessageStoreError.self) {
                    try await store.messages(connectionId: "conn-a", limit: limit, after: nil)
                }
                #expect(error?.code == .invalidPageLimit)
                #expect(error?.message == "limit must be between 1 and 1000")
                let feedError = await #expect(throws: MessageStoreError.self) {
                    try await store.changes(after: 0, limit: limit)
                }
                #expect(feedError?.code == .invalidPageLimit)
            }
            let cursorError = await #expect(throws: MessageStoreError.self) { try await store.changes(after: -1, limit: 10) }
            #expect(cursorError?.code == .invalidCursor)
            #expect(cursorError?.message == "after must be a sequence number, 0 or more")
        }
    }
}
