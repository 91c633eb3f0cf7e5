import BackfillCore
import Foundation
import Logging
import PostgresNIO

/// The message store on PostgreSQL (postgres-nio's pooled client): the same contract as the SQLite store
/// (idempotent batch inserts that report how many were new, keyset pages newest first, counts, the
/// store-wide change feed). A page is stored in one round trip (`backfill_insert_messages`, see
/// `PostgresSchema`). postgres-nio runs on NIO's event loops, never blocking Swift's cooperative pool.
/// A database that cannot be reached or answers too late is `StoreUnavailable`: the scheduler waits on it and
/// `/readyz` answers 503.
public final class PostgresMessageStore: MessageStore {
    /// The largest page `messages(connectionId:limit:after:)` and `changes(after:limit:)` serve.
    public static let maximumPageLimit = 1000

    public let configuration: PostgresStoreConfiguration
    let client: PostgresClient
    /// The client's run loop; cancelled by `shutdown()`.
    private let running: Task<Void, Never>
    let logger: Logger

    /// Connects (lazily, through the pool) and brings the schema up to date. Throws `StoreUnavailable` when
    /// the database cannot be reached within the operation timeout. Call `shutdown()` when done.
    public init(configuration: PostgresStoreConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        client = PostgresClient(configuration: try configuration.clientConfiguration(), backgroundLogger: logger)
        // The pool's run loop must outlive this initializer and every call on the store; `shutdown()` cancels
        // and awaits it, so it is not left behind.
        let (started, markStarted) = AsyncStream<Void>.makeStream()
        running = Task { [client] in
            markStarted.finish()
            await client.run()
        }
        // Queries sent before the run loop is up wait for it (and postgres-nio warns): let it start first.
        for await _ in started {}
        do {
            let applied = try await classifying { [client, logger] in try await PostgresSchema.migrate(client, logger: logger) }
            if !applied.isEmpty { logger.info("PostgreSQL store migrated", metadata: ["versions": "\(applied)"]) }
        } catch {
            await shutdown()
            throw error
        }
    }

    /// Closes the pool's connections: waits for the run loop to end, at most the operation timeout (past it, the loop
    /// is left to end by itself, `AbandonableCall`).
    public func shutdown() async {
        running.cancel()
        let running = running
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await AbandonableCall.run { await running.value } }
            group.addTask { try? await Task.sleep(for: self.configuration.operationTimeout) }
            await group.next()
            group.cancelAll()
        }
    }

    // MARK: Writing

    private static let insertSQL = """
        SELECT backfill_insert_messages($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
            $17, $18, $19, $20, $21)
        """

    /// Stores the batch in one transaction (one round trip) and returns how many messages were new. A message
    /// already stored (same connection and provider id, earlier or earlier in this batch) is left as it is,
    /// attachments included. A message that breaks a rule throws `MessageStoreError.Code.invalidMessage` and
    /// nothing of the batch is stored. A NUL in free text is stored as U+FFFD (`withStorableText`).
    public func insert(_ messages: [StoredMessage]) async throws -> Int {
        if messages.isEmpty { return 0 }
        for (index, message) in messages.enumerated() { try message.validate(positionInBatch: index) }
        let messages = messages.map(\.withStorableText)
        var bindings = PostgresBindings(capacity: 21)
        bindings.append(messages.map(\.connectionId))
        bindings.append(messages.map(\.providerMessageId))
        bindings.append(messages.map(\.folder.rawValue))
        bindings.append(NullableArray(messages.map(\.internetMessageId)))
        bindings.append(NullableArray(messages.map(\.conversationId)))
        bindings.append(NullableArray(messages.map(\.subject)))
        bindings.append(NullableArray(messages.map(\.from)))
        bindings.append(messages.map { RecipientList.encode($0.to) })
        bindings.append(messages.map { RecipientList.encode($0.cc) })
        bindings.append(messages.map { StoreTime.milliseconds($0.receivedAt) })
        bindings.append(NullableArray(messages.map { $0.sentAt.map(StoreTime.milliseconds) }))
        bindings.append(NullableArray(messages.map(\.snippet)))
        bindings.append(messages.map(\.hasAttachments))
        bindings.append(messages.map(\.source.rawValue))
        bindings.append(NullableArray(messages.map(\.backfillId)))
        bindings.append(StoreTime.milliseconds(Date()))
        // Attachments flattened, each with its message's position in the batch (1-based, as ORDINALITY).
        var positions: [Int64] = [], parts: [String] = [], names: [String] = [], sizes: [Int64] = [], types: [String] = []
        for (index, message) in messages.enumerated() {
            for attachment in message.attachments {
                positions.append(Int64(index + 1))
                parts.append(attachment.providerPartId)
                names.append(attachment.name)
                sizes.append(Int64(attachment.size))
                types.append(attachment.contentType)
            }
        }
        bindings.append(positions)
        bindings.append(parts)
        bindings.append(names)
        bindings.append(sizes)
        bindings.append(types)
        let query = PostgresQuery(unsafeSQL: Self.insertSQL, binds: bindings)
        return try await classifying { [client, logger] in
            var inserted = 0
            for try await count in try await client.query(query, logger: logger).decode(Int.self) { inserted = count }
            return inserted
        }
    }

    // MARK: Reading

    private static let columns = """
        id, connection_id, provider_message_id, folder, internet_message_id, conversation_id, subject,
        from_address, to_addresses, cc_addresses, received_at, sent_at, snippet, has_attachments, source,
        backfill_id, seq
        """

    /// Messages of one connection, newest first (received time, then provider id, both descending), after
    /// `cursor`.
    public func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        try Self.check(limit: limit)
        if let cursor, !StoreTime.isStorable(cursor.receivedAt) {
            throw MessageStoreError(code: .invalidCursor, message: "the cursor's time is out of range")
        }
        // One row more than asked tells whether another page follows.
        let query: PostgresQuery
        if let cursor {
            query = """
                SELECT \(unescaped: Self.columns) FROM message
                WHERE connection_id = \(connectionId)
                  AND (received_at, provider_message_id) < (\(StoreTime.milliseconds(cursor.receivedAt)), \(cursor.providerMessageId))
                ORDER BY received_at DESC, provider_message_id DESC LIMIT \(limit + 1)
                """
        } else {
            query = """
                SELECT \(unescaped: Self.columns) FROM message WHERE connection_id = \(connectionId)
                ORDER BY received_at DESC, provider_message_id DESC LIMIT \(limit + 1)
                """
        }
        var rows = try await fetch(query)
        let hasMore = rows.count > limit
        if hasMore { rows.removeLast() }
        let messages = rows.map(\.message)
        let next = hasMore ? messages.last.map {
            MessagePageCursor(receivedAt: $0.receivedAt, providerMessageId: $0.providerMessageId)
        } : nil
        return MessagePage(messages: messages, next: next)
    }

    /// Messages of every connection with a sequence number above `after`, in sequence order.
    public func changes(after: Int64, limit: Int) async throws -> ChangePage {
        try Self.check(limit: limit)
        guard after >= 0 else {
            throw MessageStoreError(code: .invalidCursor, message: "after must be a sequence number, 0 or more")
        }
        let rows = try await fetch("""
            SELECT \(unescaped: Self.columns) FROM message WHERE seq > \(after) ORDER BY seq LIMIT \(limit)
            """)
        let changes = rows.map { ChangePage.Change(seq: $0.seq, message: $0.message) }
        return ChangePage(changes: changes, next: changes.last?.seq ?? after)
    }

    /// How many messages are stored for a connection.
    public func count(connectionId: String) async throws -> Int {
        try await classifying { [client, logger] in
            var count = 0
            for try await value in try await client.query(
                "SELECT count(*) FROM message WHERE connection_id = \(connectionId)", logger: logger
            ).decode(Int.self) { count = value }
            return count
        }
    }

    /// The provider ids of every message stored for a connection, for comparing what was stored with what a
    /// mailbox holds.
    public func providerMessageIds(connectionId: String) async throws -> Set<String> {
        try await classifying { [client, logger] in
            var ids = Set<String>()
            for try await id in try await client.query(
                "SELECT provider_message_id FROM message WHERE connection_id = \(connectionId)", logger: logger
            ).decode(String.self) { ids.insert(id) }
            return ids
        }
    }

    /// Records lifecycle steps in one transaction (one round trip), in order; one already recorded under its
    /// outbox id is left out.
    @discardableResult
    public func record(_ events: [BackfillEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(events.map(\.kind.rawValue))
        bindings.append(events.map(\.connectionId))
        bindings.append(events.map(\.backfillId))
        bindings.append(events.map { StoreTime.milliseconds($0.at) })
        bindings.append(NullableArray(events.map { $0.pulled.map(Int64.init) }))
        bindings.append(NullableArray(events.map(\.errorCode)))
        bindings.append(NullableArray(events.map(\.outboxId)))
        let query = PostgresQuery(unsafeSQL: "SELECT backfill_record_events($1, $2, $3, $4, $5, $6, $7)", binds: bindings)
        return try await classifying { [client, logger] in
            var recorded = 0
            for try await count in try await client.query(query, logger: logger).decode(Int.self) { recorded = count }
            return recorded
        }
    }

    /// Lifecycle events with a sequence number above `after`, in sequence order.
    public func events(after: Int64, limit: Int) async throws -> BackfillEventPage {
        try Self.check(limit: limit)
        guard after >= 0 else {
            throw MessageStoreError(code: .invalidCursor, message: "after must be a sequence number, 0 or more")
        }
        let query: PostgresQuery = """
            SELECT seq, kind, connection_id, backfill_id, at, pulled, error_code, outbox_id FROM backfill_event
            WHERE seq > \(after) ORDER BY seq LIMIT \(limit)
            """
        let entries = try await classifying { [client, logger] in
            var entries: [BackfillEventPage.Entry] = []
            for try await (seq, kindName, connectionId, backfillId, at, pulled, errorCode, outboxId) in try await client.query(
                query, logger: logger
            ).decode((Int64, String, String, String, Int64, Int64?, String?, String?).self) {
                guard let kind = BackfillEvent.Kind(rawValue: kindName) else {
                    throw MessageStoreError(code: .unreadableRow, message: "a stored event has an unknown kind")
                }
                entries.append(BackfillEventPage.Entry(seq: seq, event: BackfillEvent(
                    kind: kind, connectionId: connectionId, backfillId: backfillId, at: StoreTime.date(milliseconds: at),
                    pulled: pulled.map(Int.init), errorCode: errorCode, outboxId: outboxId)))
            }
            return entries
        }
        return BackfillEventPage(events: entries, next: entries.last?.seq ?? after)
    }

    /// Answers when the database answers a query within `timeout` (`/readyz`); else throws
    /// `StoreUnavailable`.
    public func ping(timeout: Duration) async throws {
        try await classifying(timeout: timeout) { [client, logger] in
            for try await _ in try await client.query("SELECT 1", logger: logger) {}
        }
    }

    private static func check(limit: Int) throws(MessageStoreError) {
        guard (1...maximumPageLimit).contains(limit) else {
            throw MessageStoreError(code: .invalidPageLimit, message: "limit must be between 1 and \(maximumPageLimit)")
        }
    }

    /// The message rows `query` selects (with `columns`), with their attachments (a second query).
    private func fetch(_ query: PostgresQuery) async throws -> [PostgresMessageRow] {
        try await classifying { [client, logger] in
            var rows: [PostgresMessageRow] = []
            let decoder = JSONDecoder()
            for try await row in try await client.query(query, logger: logger) {
                rows.append(try PostgresMessageRow(row, decoder: decoder))
            }
            guard !rows.isEmpty else { return rows }
            let ids = rows.map(\.id)
            var byMessage: [Int64: [AttachmentMetadata]] = [:]
            for try await (messageId, part, name, size, type) in try await client.query("""
                SELECT message_id, provider_part_id, name, size, content_type FROM attachment
                WHERE message_id = ANY(\(ids)) ORDER BY id
                """, logger: logger).decode((Int64, String, String, Int64, String).self) {
                byMessage[messageId, default: []].append(
                    AttachmentMetadata(providerPartId: part, name: name, size: Int(size), contentType: type))
            }
            for index in rows.indices { rows[index].message.attachments = byMessage[rows[index].id] ?? [] }
            return rows
        }
    }

    // MARK: Failures

    /// Runs `work` within the operation timeout, turning a failure of the database itself (unreachable, gone
    /// away, out of space, read-only, too slow) into `StoreUnavailable`. Texts name the condition, never the
    /// password or message content.
    func classifying<T: Sendable>(
        timeout: Duration? = nil, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = timeout ?? configuration.operationTimeout
        let target = "\(configuration.host):\(configuration.port)"
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await AbandonableCall.run(work) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let value = first else {
                    throw StoreUnavailable("PostgreSQL at \(target) did not answer within \(timeout)")
                }
                return value
            }
        } catch let error as PSQLError {
            if let condition = Self.unavailability(error) {
                throw StoreUnavailable("PostgreSQL at \(target): \(condition)")
            }
            throw error
        } catch let error as PostgresTransactionError {
            if let inner = (error.closureError ?? error.beginError ?? error.commitError) as? PSQLError,
               let condition = Self.unavailability(inner) {
                throw StoreUnavailable("PostgreSQL at \(target): \(condition)")
            }
            throw error
        } catch is CancellationError where !Task.isCancelled {
            throw StoreUnavailable("PostgreSQL at \(target) did not answer within \(timeout)")
        }
    }

    /// What a PostgreSQL error says about the database's availability, or nil when it is about the request.
    static func unavailability(_ error: PSQLError) -> String? {
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return "cannot reach the database (\(error.code))"
        case .sslUnsupported, .failedToAddSSLHandler:
            return "TLS could not be set up (\(error.code))"
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return "cannot sign in (\(error.code))"
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            // 08: connection exceptions; 53: out of disk, memory or connections; 57P: shutdown or starting
            // up; 28: wrong password or user; 3D000: no such database; 25006: a read-only server (a standby).
            let conditions: [(prefix: String, text: String)] = [
                ("08", "the connection failed"), ("53", "the server is out of resources"),
                ("57P", "the server is shutting down or starting"), ("28", "the server refused the sign-in"),
                ("3D000", "the database does not exist"), ("25006", "the server is read-only"),
            ]
            return conditions.first(where: { state.hasPrefix($0.prefix) }).map { "\($0.text) (SQLSTATE \(state))" }
        default:
            return nil
        }
    }
}
