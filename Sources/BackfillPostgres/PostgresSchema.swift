import Logging
import PostgresNIO

/// The store's tables in PostgreSQL, as numbered migrations applied in order and recorded in
/// `backfill_schema_migration`. Append new migrations; never edit a shipped one. Each is a list of single
/// statements (the extended query protocol takes one at a time).
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [PostgresQuery]
    }

    /// Instances starting together take turns on this lock (held to the end of the migration transaction).
    static let migrationLock: Int64 = 0x4261_636B_6669_6C01
    /// Every insert holds this lock while it takes sequence numbers and until it commits (see
    /// `backfill_insert_messages`).
    static let sequenceLock: Int64 = 0x4261_636B_6669_6C02
    /// The same for `backfill_record_event` and `backfill_record_events`.
    static let eventLock: Int64 = 0x4261_636B_6669_6C03

    static let migrations: [Migration] = [
        Migration(version: 1, name: "messages, attachment metadata, the store-wide sequence", statements: [
            // Times are integer milliseconds since 1970 (UTC), as in the SQLite store, so keyset comparisons
            // are exact. Recipient lists are JSON arrays of strings. Attachment bytes are never stored.
            """
            CREATE TABLE message (
                id BIGSERIAL PRIMARY KEY,
                connection_id TEXT NOT NULL,
                provider_message_id TEXT NOT NULL,
                folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
                internet_message_id TEXT,
                conversation_id TEXT,
                subject TEXT,
                from_address TEXT,
                to_addresses TEXT NOT NULL,
                cc_addresses TEXT NOT NULL,
                received_at BIGINT NOT NULL,
                sent_at BIGINT,
                snippet TEXT,
                has_attachments BOOLEAN NOT NULL,
                source TEXT NOT NULL CHECK (source IN ('backfill', 'realtime')),
                backfill_id TEXT,
                seq BIGINT NOT NULL UNIQUE,
                stored_at BIGINT NOT NULL,
                UNIQUE (connection_id, provider_message_id)
            )
            """,
            // Paging newest first and counting by connection walk this index.
            "CREATE INDEX message_by_connection_received ON message (connection_id, received_at, provider_message_id)",
            """
            CREATE TABLE attachment (
                id BIGSERIAL PRIMARY KEY,
                message_id BIGINT NOT NULL REFERENCES message (id) ON DELETE CASCADE,
                provider_part_id TEXT NOT NULL,
                name TEXT NOT NULL,
                size BIGINT NOT NULL CHECK (size >= 0),
                content_type TEXT NOT NULL,
                UNIQUE (message_id, provider_part_id)
            )
            """,
            "CREATE SEQUENCE message_seq",
        ]),
        Migration(version: 2, name: "batch insert in one round trip", statements: [
            // One call stores a page: the messages (the first of repeated ids in the batch, none already
            // stored), then the attachments of the new ones, and answers how many were new.
            // Sequence numbers: PostgreSQL sequences are not commit-ordered, so a reader following
            // `seq > after` could pass a number whose transaction commits late and never see it. Every
            // insert therefore takes a transaction-level advisory lock first and keeps it until it
            // commits (PostgreSQL makes a commit visible before it releases the transaction's locks): the
            // numbers are taken in turn, and a reader that sees number N also sees every smaller one.
            """
            CREATE FUNCTION backfill_insert_messages(
                p_connection TEXT[], p_provider TEXT[], p_folder TEXT[], p_internet TEXT[], p_conversation TEXT[],
                p_subject TEXT[], p_from TEXT[], p_to TEXT[], p_cc TEXT[], p_received BIGINT[], p_sent BIGINT[],
                p_snippet TEXT[], p_has_attachments BOOLEAN[], p_source TEXT[], p_backfill TEXT[], p_stored_at BIGINT,
                a_position BIGINT[], a_part TEXT[], a_name TEXT[], a_size BIGINT[], a_type TEXT[]
            ) RETURNS INTEGER LANGUAGE plpgsql AS $$
            DECLARE
                inserted INTEGER;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(unescaped: String(sequenceLock)));
                WITH input AS (
                    SELECT * FROM unnest(p_connection, p_provider, p_folder, p_internet, p_conversation, p_subject,
                        p_from, p_to, p_cc, p_received, p_sent, p_snippet, p_has_attachments, p_source, p_backfill)
                        WITH ORDINALITY AS t(connection_id, provider_message_id, folder, internet_message_id,
                            conversation_id, subject, from_address, to_addresses, cc_addresses, received_at, sent_at,
                            snippet, has_attachments, source, backfill_id, position)
                ), firsts AS (
                    SELECT DISTINCT ON (connection_id, provider_message_id) * FROM input
                    ORDER BY connection_id, provider_message_id, position
                ), stored AS (
                    INSERT INTO message (connection_id, provider_message_id, folder, internet_message_id,
                        conversation_id, subject, from_address, to_addresses, cc_addresses, received_at, sent_at,
                        snippet, has_attachments, source, backfill_id, seq, stored_at)
                    SELECT connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,
                        from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments,
                        source, backfill_id, nextval('message_seq'), p_stored_at
                    FROM (SELECT * FROM firsts ORDER BY position) ordered
                    -- Under the lock no other insert runs, so this leaves out exactly the stored ones and
                    -- they take no number (`nextval` runs only for rows that pass); ON CONFLICT stays as a guard.
                    WHERE NOT EXISTS (
                        SELECT 1 FROM message stored_before
                        WHERE stored_before.connection_id = ordered.connection_id
                          AND stored_before.provider_message_id = ordered.provider_message_id
                    )
                    ON CONFLICT (connection_id, provider_message_id) DO NOTHING
                    RETURNING id, connection_id, provider_message_id
                ), positions AS (
                    SELECT stored.id, firsts.position FROM stored
                    JOIN firsts USING (connection_id, provider_message_id)
                ), attachments AS (
                    INSERT INTO attachment (message_id, provider_part_id, name, size, content_type)
                    SELECT positions.id, a.part, a.name, a.size, a.type
                    FROM unnest(a_position, a_part, a_name, a_size, a_type) WITH ORDINALITY
                        AS a(position, part, name, size, type, ordinal)
                    JOIN positions ON positions.position = a.position
                    ORDER BY a.ordinal
                )
                SELECT count(*) INTO inserted FROM stored;
                RETURN inserted;
            END
            $$
            """,
        ]),
        Migration(version: 3, name: "backfill lifecycle events", statements: [
            """
            CREATE TABLE backfill_event (
                seq BIGINT PRIMARY KEY,
                kind TEXT NOT NULL,
                connection_id TEXT NOT NULL,
                backfill_id TEXT NOT NULL,
                at BIGINT NOT NULL,
                pulled BIGINT,
                error_code TEXT
            )
            """,
            "CREATE SEQUENCE backfill_event_seq",
            // Numbered in commit order the same way as messages (see `backfill_insert_messages`), under a
            // lock of its own.
            """
            CREATE FUNCTION backfill_record_event(
                p_kind TEXT, p_connection TEXT, p_backfill TEXT, p_at BIGINT, p_pulled BIGINT, p_error_code TEXT
            ) RETURNS BIGINT LANGUAGE plpgsql AS $$
            DECLARE
                assigned BIGINT;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(unescaped: String(eventLock)));
                INSERT INTO backfill_event (seq, kind, connection_id, backfill_id, at, pulled, error_code)
                VALUES (nextval('backfill_event_seq'), p_kind, p_connection, p_backfill, p_at, p_pulled, p_error_code)
                RETURNING seq INTO assigned;
                RETURN assigned;
            END
            $$
            """,
        ]),
        Migration(version: 4, name: "events relayed from the outbox once", statements: [
            // The Redis outbox entry an event came from: relayed at least once, recorded once. Older rows have
            // none (NULLs never collide in a unique index).
            "ALTER TABLE backfill_event ADD COLUMN outbox_id TEXT",
            "CREATE UNIQUE INDEX backfill_event_by_outbox ON backfill_event (outbox_id)",
            // A batch of events in one call, in order, numbered under the event lock as before; one whose outbox id
            // is recorded already takes no number. Answers how many were new.
            """
            CREATE FUNCTION backfill_record_events(
                p_kind TEXT[], p_connection TEXT[], p_backfill TEXT[], p_at BIGINT[], p_pulled BIGINT[],
                p_error_code TEXT[], p_outbox TEXT[]
            ) RETURNS INTEGER LANGUAGE plpgsql AS $$
            DECLARE
                inserted INTEGER;
            BEGIN
                PERFORM pg_advisory_xact_lock(\(unescaped: String(eventLock)));
                WITH stored AS (
                    INSERT INTO backfill_event (seq, kind, connection_id, backfill_id, at, pulled, error_code, outbox_id)
                    SELECT nextval('backfill_event_seq'), kind, connection_id, backfill_id, at, pulled, error_code, outbox_id
                    FROM (
                        SELECT * FROM unnest(p_kind, p_connection, p_backfill, p_at, p_pulled, p_error_code, p_outbox)
                            WITH ORDINALITY AS e(kind, connection_id, backfill_id, at, pulled, error_code, outbox_id, position)
                        ORDER BY position
                    ) ordered
                    -- Under the lock no other insert runs, so this leaves out exactly the recorded ones and they
                    -- take no number; ON CONFLICT stays as a guard.
                    WHERE ordered.outbox_id IS NULL OR NOT EXISTS (
                        SELECT 1 FROM backfill_event recorded WHERE recorded.outbox_id = ordered.outbox_id
                    )
                    ON CONFLICT (outbox_id) DO NOTHING
                    RETURNING 1
                )
                SELECT count(*) INTO inserted FROM stored;
                RETURN inserted;
            END
            $$
            """,
        ]),
    ]

    /// Applies the migrations not yet recorded, in one transaction under `migrationLock`, so instances
    /// starting at once do not race. Returns the versions it applied.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS backfill_schema_migration (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                "SELECT version FROM backfill_schema_migration", logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query(
                    "INSERT INTO backfill_schema_migration (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                done.append(migration.version)
            }
            return done
        }
    }
}
