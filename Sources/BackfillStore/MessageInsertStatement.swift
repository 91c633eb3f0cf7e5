import BackfillCore
import GRDB
import GRDBSQLite

/// The insert of one message row: a statement GRDB prepares and caches, bound and stepped through SQLite's C
/// API. GRDB's `execute(arguments:)` boxes, checks and repacks the 15 values of every row, which cost about a
/// fifth of the insert path's CPU time in ops/bench/store. The C types stay in this file.
struct MessageInsertStatement {
    private static let sql = """
        INSERT INTO message (
            connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,
            from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments, source,
            stored_at, backfill_id, seq
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (connection_id, provider_message_id) DO NOTHING
        """

    /// Tells SQLite to copy a bound text: Swift only lends a string's bytes for the length of the call.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    private let db: Database
    /// Held so the C statement below lives as long as this value, whatever happens to GRDB's cache.
    private let cachedStatement: Statement
    private let statement: SQLiteStatement

    init(_ db: Database) throws {
        self.db = db
        cachedStatement = try db.cachedStatement(sql: Self.sql)
        statement = cachedStatement.sqliteStatement
    }

    /// Inserts the message's row unless its (connection, provider id) is already stored, and tells whether
    /// it was new (then it took `seq`). The message must have passed `validate(positionInBatch:)`.
    func insert(_ message: StoredMessage, storedAt: Int64, seq: Int64) throws -> Bool {
        // Resetting also clears what the previous step reported; its error, if any, was thrown then.
        sqlite3_reset(statement)
        try bind(1, message.connectionId)
        try bind(2, message.providerMessageId)
        try bind(3, message.folder.rawValue)
        try bind(4, message.internetMessageId)
        try bind(5, message.conversationId)
        try bind(6, message.subject)
        try bind(7, message.from)
        try bind(8, RecipientList.encode(message.to))
        try bind(9, RecipientList.encode(message.cc))
        try bind(10, StoreTime.milliseconds(message.receivedAt))
        try bind(11, message.sentAt.map(StoreTime.milliseconds))
        try bind(12, message.snippet)
        try bind(13, message.hasAttachments ? 1 : 0)
        try bind(14, message.source.rawValue)
        try bind(15, storedAt)
        try bind(16, message.backfillId)
        try bind(17, seq)
        try check(sqlite3_step(statement), expected: SQLITE_DONE)
        return db.changesCount > 0
    }

    private func bind(_ index: Int32, _ text: String?) throws {
        guard let text else { return try check(sqlite3_bind_null(statement, index)) }
        // `withCString` lends a native string's own bytes; passing the String as a pointer argument
        // would build a copy (`utf8CString`) first.
        try check(text.withCString { sqlite3_bind_text(statement, index, $0, -1, Self.transient) })
    }

    private func bind(_ index: Int32, _ integer: Int64?) throws {
        guard let integer else { return try check(sqlite3_bind_null(statement, index)) }
        try check(sqlite3_bind_int64(statement, index, integer))
    }

    private func check(_ code: Int32, expected: Int32 = SQLITE_OK) throws {
        guard code != expected else { return }
        throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: Self.sql)
    }
}
