import GRDB

/// The store's tables, as GRDB migrations. Append new migrations; never edit a shipped one.
enum MessageStoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: messages and attachment metadata") { db in
            // Times are integer milliseconds since 1970 (UTC), so keyset comparisons are exact.
            // Recipient lists are JSON arrays of strings. Attachment bytes are never stored.
            try db.execute(sql: """
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    connection_id TEXT NOT NULL,
                    provider_message_id TEXT NOT NULL,
                    folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
                    internet_message_id TEXT,
                    conversation_id TEXT,
                    subject TEXT,
                    from_address TEXT,
                    to_addresses TEXT NOT NULL,
                    cc_addresses TEXT NOT NULL,
                    received_at INTEGER NOT NULL,
                    sent_at INTEGER,
                    snippet TEXT,
                    has_attachments INTEGER NOT NULL CHECK (has_attachments IN (0, 1)),
                    source TEXT NOT NULL CHECK (source IN ('backfill', 'realtime')),
                    stored_at INTEGER NOT NULL,
                    UNIQUE (connection_id, provider_message_id)
                );
                -- Paging newest first and counting by connection both walk this index only.
                CREATE INDEX message_by_connection_received
                    ON message (connection_id, received_at, provider_message_id);
                CREATE TABLE attachment (
                    id INTEGER PRIMARY KEY,
                    message_id INTEGER NOT NULL REFERENCES message (id) ON DELETE CASCADE,
                    provider_part_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    size INTEGER NOT NULL CHECK (size >= 0),
                    content_type TEXT NOT NULL,
                    UNIQUE (message_id, provider_part_id)
                );
                """)
        }
        migrator.registerMigration("v2: origin backfill and store-wide sequence") { db in
            // `seq` is the change feed's order. SQLite has one writer at a time, so a number taken inside the
            // write transaction is also commit order. Rows stored before it get their row id, which already
            // grew in insertion order.
            try db.execute(sql: """
                ALTER TABLE message ADD COLUMN backfill_id TEXT;
                ALTER TABLE message ADD COLUMN seq INTEGER;
                UPDATE message SET seq = id;
                CREATE UNIQUE INDEX message_by_seq ON message (seq);
                """)
        }
        migrator.registerMigration("v3: backfill lifecycle events") { db in
            // `seq` is the row id: one writer at a time makes it commit order, and rows are never deleted.
            try db.execute(sql: """
                CREATE TABLE backfill_event (
                    seq INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,
                    connection_id TEXT NOT NULL,
                    backfill_id TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    pulled INTEGER,
                    error_code TEXT
                );
                """)
        }
        migrator.registerMigration("v4: events relayed from the outbox once") { db in
            // The Redis outbox entry an event came from: relayed at least once, recorded once. Older rows have none
            // (NULLs never collide in a unique index).
            try db.execute(sql: """
                ALTER TABLE backfill_event ADD COLUMN outbox_id TEXT;
                CREATE UNIQUE INDEX backfill_event_by_outbox ON backfill_event (outbox_id);
                """)
        }
        return migrator
    }
}
