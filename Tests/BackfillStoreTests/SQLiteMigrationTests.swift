import BackfillCore
import BackfillStore
import Foundation
import GRDB
import Testing

@Suite("SQLite store: a file of the first version migrates forward")
struct SQLiteMigrationTests {
    @Test("rows stored before the change feed get sequence numbers in insertion order and no backfill id; new rows follow")
    func firstVersionMigrates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("messages.sqlite").path

        // The first version's schema, as it shipped, with three rows and GRDB's record of the migration.
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1: messages and attachment metadata');
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY, connection_id TEXT NOT NULL, provider_message_id TEXT NOT NULL,
                    folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')), internet_message_id TEXT,
                    conversation_id TEXT, subject TEXT, from_address TEXT, to_addresses TEXT NOT NULL,
                    cc_addresses TEXT NOT NULL, received_at INTEGER NOT NULL, sent_at INTEGER, snippet TEXT,
                    has_attachments INTEGER NOT NULL CHECK (has_attachments IN (0, 1)),
                    source TEXT NOT NULL CHECK (source IN ('backfill', 'realtime')), stored_at INTEGER NOT NULL,
                    UNIQUE (connection_id, provider_message_id)
                );
                CREATE INDEX message_by_connection_received ON message (connection_id, received_at, provider_message_id);
                CREATE TABLE attachment (
                    id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
                    provider_part_id TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL CHECK (size >= 0),
                    content_type TEXT NOT NULL, UNIQUE (message_id, provider_part_id)
                );
                INSERT INTO message (connection_id, provider_message_id, folder, to_addresses, cc_addresses, received_at,
                    has_attachments, source, stored_at)
                VALUES ('conn-a', 'old-1', 'inbox', '[]', '[]', 1700000000000, 0, 'backfill', 1),
                       ('conn-b', 'old-2', 'sent', '[]', '[]', 1700000060000, 0, 'realtime', 2),
                       ('conn-a', 'old-3', 'inbox', '[]', '[]', 1700000120000, 0, 'backfill', 3);
                """)
        }
        try old.close()

        let store = try SQLiteMessageStore(path: path)
        var next = Messages.make("new-1")
        next.backfillId = "bf-2"
        #expect(try await store.insert([next]) == 1)
        let feed = try await store.changes(after: 0, limit: 10)
        #expect(feed.changes.map(\.seq) == [1, 2, 3, 4])
        #expect(feed.changes.map(\.message.providerMessageId) == ["old-1", "old-2", "old-3", "new-1"])
        #expect(feed.changes.map(\.message.backfillId) == [nil, nil, nil, "bf-2"])
        #expect(feed.changes.map(\.message.source) == [.backfill, .realtime, .backfill, .backfill])
        #expect(try await store.count(connectionId: "conn-a") == 3)
    }
}
