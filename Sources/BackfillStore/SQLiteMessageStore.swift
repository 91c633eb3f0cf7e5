import BackfillCore
import Foundation
import GRDB

/// The message store on one SQLite file in WAL mode: one writer and several readers at once (a GRDB
/// `DatabasePool`), so pages and counts are served while a batch is being written. All SQLite work runs on
/// GRDB's own dispatch queues, never on Swift's cooperative pool.
public final class SQLiteMessageStore: MessageStore {
    /// The largest page `messages(connectionId:limit:after:)` serves.
    public static let maximumPageLimit = 1000

    let pool: DatabasePool

    /// Opens (or creates, with its directories) the store file at `path` and brings its schema up to date.
    /// Blocks while it opens and migrates: call it at startup, not from a busy async context.
    /// `maximumPages` bounds the file (SQLite's `max_page_count`, 4 KiB pages): a write past it fails as a
    /// full disk does, which is how tests make one.
    public init(path: String, maximumPages: Int? = nil) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.label = "BackfillStore"
        // Several `backfill serve` processes may share the file: wait for another one's write to end
        // rather than fail at once.
        configuration.busyMode = .timeout(10)
        if let maximumPages {
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA max_page_count = \(maximumPages)") }
        }
        pool = try Self.open(path: path, configuration: configuration)
    }

    /// Opens the pool and brings the schema up to date. Several processes opening a new file at once race
    /// twice: switching it to WAL mode takes a lock the busy timeout does not wait for ("database is
    /// locked"), and two can both find a migration not applied yet and both run it, the later one failing
    /// ("table message already exists") once the first has committed. Opening again settles both.
    private static func open(path: String, configuration: Configuration, attempts: Int = 5) throws -> DatabasePool {
        var attempt = 1
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try MessageStoreSchema.migrator.migrate(pool)
                return pool
            } catch let error as DatabaseError
                where attempt < attempts && (error.resultCode == .SQLITE_ERROR || error.resultCode == .SQLITE_BUSY) {
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
                attempt += 1
            }
        }
    }

    // MARK: Writing

    private static let insertAttachmentSQL = """
        INSERT INTO attachment (message_id, provider_part_id, name, size, content_type) VALUES (?, ?, ?, ?, ?)
        """

    /// Stores the batch in one transaction and returns how many messages were new. A message already stored
    /// (same connection and provider id, in an earlier batch or earlier in this one) is left as it is,
    /// attachments included. A message that breaks a rule throws `MessageStoreError.Code.invalidMessage`
    /// and nothing of the batch is stored. A NUL in free text is stored as U+FFFD (`withStorableText`).
    public func insert(_ messages: [StoredMessage]) async throws -> Int {
        if messages.isEmpty { return 0 }
        let storedAt = StoreTime.milliseconds(Date())
        return try await Self.classifyingUnavailability { try await self.pool.write { db in
            // Cached statements: the SQL is compiled once per connection, then only bound and stepped.
            let insertMessage = try MessageInsertStatement(db)
            // The writer holds SQLite's write lock for the whole transaction, so numbers taken from the
            // highest one stored are unique and grow in commit order (the change feed relies on it).
            var seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM message")) ?? 0
            var newCount = 0
            for (index, given) in messages.enumerated() {
                // A throw rolls the whole transaction back.
                try given.validate(positionInBatch: index)
                let message = given.withStorableText
                guard try insertMessage.insert(message, storedAt: storedAt, seq: seq + 1) else { continue }
                seq += 1
                newCount += 1
                if message.attachments.isEmpty { continue }
                let messageRowId = db.lastInsertedRowID
                let insertAttachment = try db.cachedStatement(sql: Self.insertAttachmentSQL)
                for attachment in message.attachments {
                    try insertAttachment.execute(arguments: [
                        messageRowId, attachment.providerPartId, attachment.name, attachment.size,
                        attachment.contentType,
                    ])
                }
            }
            return newCount
        } }
    }

    /// SQLite result codes that say the store itself cannot work (not that a request was bad).
    private static let unavailableCodes: [(code: ResultCode, condition: String)] = [
        (.SQLITE_FULL, "the disk is full"), (.SQLITE_IOERR, "an I/O error"), (.SQLITE_READONLY, "the store file is read-only"),
        (.SQLITE_CANTOPEN, "the store file cannot be opened"), (.SQLITE_BUSY, "the store stayed locked by another writer"),
        (.SQLITE_CORRUPT, "the store file is damaged"), (.SQLITE_NOTADB, "the store file is not a database"),
    ]

    /// Runs `work`, turning a failure of the store itself into `StoreUnavailable` (the scheduler waits on it
    /// instead of blaming the provider).
    private static func classifyingUnavailability<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as DatabaseError {
            if let condition = unavailableCodes.first(where: { $0.code == error.resultCode })?.condition {
                throw StoreUnavailable("SQLite: \(condition) (\(error.resultCode))")
            }
            throw error
        }
    }

    // MARK: Reading

    private static let firstPageSQL = """
        SELECT \(StoredMessage.selectedColumns) FROM message
        WHERE connection_id = ?
        ORDER BY received_at DESC, provider_message_id DESC LIMIT ?
        """

    private static let nextPageSQL = """
        SELECT \(StoredMessage.selectedColumns) FROM message
        WHERE connection_id = ? AND (received_at, provider_message_id) < (?, ?)
        ORDER BY received_at DESC, provider_message_id DESC LIMIT ?
        """

    /// Messages of one connection, newest first (received time, then provider id, both descending), after
    /// `cursor`. Reads the last committed state, even while a batch is being written.
    public func messages(
        connectionId: String, limit: Int, after cursor: MessagePageCursor?
    ) async throws -> MessagePage {
        guard (1...Self.maximumPageLimit).contains(limit) else {
            throw MessageStoreError(
                code: .invalidPageLimit, message: "limit must be between 1 and \(Self.maximumPageLimit)")
        }
        if let cursor, !StoreTime.isStorable(cursor.receivedAt) {
            throw MessageStoreError(code: .invalidCursor, message: "the cursor's time is out of range")
        }
        return try await pool.read { db in
            // One row more than asked tells whether another page follows.
            var rows: [Row]
            if let cursor {
                rows = try Row.fetchAll(
                    db.cachedStatement(sql: Self.nextPageSQL),
                    arguments: [
                        connectionId, StoreTime.milliseconds(cursor.receivedAt), cursor.providerMessageId, limit + 1,
                    ])
            } else {
                rows = try Row.fetchAll(
                    db.cachedStatement(sql: Self.firstPageSQL), arguments: [connectionId, limit + 1])
            }
            let hasMore = rows.count > limit
            if hasMore { rows.removeLast() }
            let rowIds: [Int64] = try rows.map { try $0.decode(forColumn: "id") }
            let attachments = try Self.attachments(ofMessageRows: rowIds, in: db)
            let decoder = JSONDecoder()
            let messages = try zip(rows, rowIds).map { row, rowId in
                try StoredMessage(row: row, attachments: attachments[rowId] ?? [], decoder: decoder)
            }
            let next = hasMore ? messages.last.map {
                MessagePageCursor(receivedAt: $0.receivedAt, providerMessageId: $0.providerMessageId)
            } : nil
            return MessagePage(messages: messages, next: next)
        }
    }

    private static let changesSQL = """
        SELECT \(StoredMessage.selectedColumns) FROM message WHERE seq > ? ORDER BY seq LIMIT ?
        """

    /// Messages of every connection with a sequence number above `after`, in sequence order.
    public func changes(after: Int64, limit: Int) async throws -> ChangePage {
        guard (1...Self.maximumPageLimit).contains(limit) else {
            throw MessageStoreError(
                code: .invalidPageLimit, message: "limit must be between 1 and \(Self.maximumPageLimit)")
        }
        guard after >= 0 else {
            throw MessageStoreError(code: .invalidCursor, message: "after must be a sequence number, 0 or more")
        }
        return try await pool.read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: Self.changesSQL), arguments: [after, limit])
            let rowIds: [Int64] = try rows.map { try $0.decode(forColumn: "id") }
            let attachments = try Self.attachments(ofMessageRows: rowIds, in: db)
            let decoder = JSONDecoder()
            let changes = try zip(rows, rowIds).map { row, rowId in
                ChangePage.Change(
                    seq: try row.decode(forColumn: "seq"),
                    message: try StoredMessage(row: row, attachments: attachments[rowId] ?? [], decoder: decoder))
            }
            return ChangePage(changes: changes, next: changes.last?.seq ?? after)
        }
    }

    /// Records lifecycle steps in one transaction, in order; one already recorded under its outbox id is left out.
    @discardableResult
    public func record(_ events: [BackfillEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        return try await Self.classifyingUnavailability { try await self.pool.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO backfill_event (kind, connection_id, backfill_id, at, pulled, error_code, outbox_id)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (outbox_id) DO NOTHING
                """)
            var recorded = 0
            for event in events {
                try statement.execute(arguments: [
                    event.kind.rawValue, event.connectionId, event.backfillId, StoreTime.milliseconds(event.at),
                    event.pulled, event.errorCode, event.outboxId,
                ])
                recorded += db.changesCount
            }
            return recorded
        } }
    }

    /// Lifecycle events with a sequence number above `after`, in sequence order.
    public func events(after: Int64, limit: Int) async throws -> BackfillEventPage {
        guard (1...Self.maximumPageLimit).contains(limit) else {
            throw MessageStoreError(
                code: .invalidPageLimit, message: "limit must be between 1 and \(Self.maximumPageLimit)")
        }
        guard after >= 0 else {
            throw MessageStoreError(code: .invalidCursor, message: "after must be a sequence number, 0 or more")
        }
        return try await pool.read { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT seq, kind, connection_id, backfill_id, at, pulled, error_code, outbox_id FROM backfill_event
                    WHERE seq > ? ORDER BY seq LIMIT ?
                    """),
                arguments: [after, limit])
            let entries = try rows.map { row in
                let kindName: String = try row.decode(forColumn: "kind")
                guard let kind = BackfillEvent.Kind(rawValue: kindName) else {
                    throw MessageStoreError(code: .unreadableRow, message: "a stored event has an unknown kind")
                }
                return BackfillEventPage.Entry(seq: try row.decode(forColumn: "seq"), event: BackfillEvent(
                    kind: kind, connectionId: try row.decode(forColumn: "connection_id"),
                    backfillId: try row.decode(forColumn: "backfill_id"),
                    at: StoreTime.date(milliseconds: try row.decode(forColumn: "at")),
                    pulled: try row.decode(forColumn: "pulled"), errorCode: try row.decode(forColumn: "error_code"),
                    outboxId: try row.decode(forColumn: "outbox_id")))
            }
            return BackfillEventPage(events: entries, next: entries.last?.seq ?? after)
        }
    }

    /// Attachment metadata of the given message rows, each list in the order it was stored.
    private static func attachments(
        ofMessageRows rowIds: [Int64], in db: Database
    ) throws -> [Int64: [AttachmentMetadata]] {
        if rowIds.isEmpty { return [:] }
        let request: SQLRequest<Row> = """
            SELECT message_id, provider_part_id, name, size, content_type FROM attachment
            WHERE message_id IN \(rowIds) ORDER BY id
            """
        var byMessage: [Int64: [AttachmentMetadata]] = [:]
        for row in try request.fetchAll(db) {
            let attachment = AttachmentMetadata(
                providerPartId: try row.decode(forColumn: "provider_part_id"),
                name: try row.decode(forColumn: "name"),
                size: try row.decode(forColumn: "size"),
                contentType: try row.decode(forColumn: "content_type"))
            byMessage[try row.decode(forColumn: "message_id"), default: []].append(attachment)
        }
        return byMessage
    }

    /// How many messages are stored for a connection (read from an index, not the table).
    public func count(connectionId: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM message WHERE connection_id = ?"),
                arguments: [connectionId]) ?? 0
        }
    }

    /// The provider ids of every message stored for a connection, for comparing what was stored with what a
    /// mailbox holds.
    public func providerMessageIds(connectionId: String) async throws -> Set<String> {
        try await pool.read { db in
            try Set(String.fetchCursor(
                db.cachedStatement(sql: "SELECT provider_message_id FROM message WHERE connection_id = ?"),
                arguments: [connectionId]))
        }
    }
}
