import BackfillCore
import BackfillRedis
import Foundation

/// Connections, their sealed credentials and their real-time sync state, in Redis.
/// Keys (under the scheduler's prefix, documented with the others in `SchedulerKeys`):
/// `P:conn:{id}` hash (its fields: `ConnectionField`),
/// `P:sync:{id}` hash (the provider's real-time state), `P:conn:index` hash (`provider:address` → id),
/// `P:connections` set (every id), `P:children:{id}` set (shared mailboxes under a personal connection).
public struct RedisConnectionDirectory: ConnectionDirectory {
    let redis: RedisClient
    let keys: SchedulerKeys
    let sealer: any CredentialSealer

    /// Built by `Scheduler.connectionDirectory(sealer:)`, which owns the client and the key prefix.
    init(redis: RedisClient, keys: SchedulerKeys, sealer: any CredentialSealer) {
        self.redis = redis
        self.keys = keys
        self.sealer = sealer
    }

    /// Connects a mailbox. The same provider and address keep their connection id (a reconnect keeps
    /// every stored message): only the credentials are replaced and the health reset.
    /// - Parameters:
    ///   - credentials: the mailbox's tokens; nil only with `auth: .app`, which stores none (the app's token
    ///     is the service's) and no parent: such a connection leaves the children of a parent it had.
    public func connect(
        provider: ProviderKind, address: String, credentials: OAuthCredentials?, parentId: String?, auth: ConnectionAuth = .delegated,
        now: Date = Date()
    ) async throws -> (connection: Connection, reconnected: Bool) {
        guard auth == .app || credentials != nil else { throw SchedulerError(message: "a delegated connection needs credentials") }
        let indexField = "\(provider.rawValue):\(address.lowercased())"
        let candidate = "c_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let claimed = try await redis.send(["HSETNX", keys.connectionIndex, indexField, String(candidate)]).int == 1
        let id = claimed ? String(candidate) : (try await redis.send(["HGET", keys.connectionIndex, indexField]).string ?? String(candidate))
        var fields = [
            ConnectionField.id.rawValue, id, ConnectionField.provider.rawValue, provider.rawValue, ConnectionField.address.rawValue, address,
            ConnectionField.health.rawValue, ConnectionHealth.healthy.rawValue,
        ]
        if auth == .delegated, let credentials {
            fields += [ConnectionField.credentials.rawValue, try sealer.seal(try JSONEncoder().encode(credentials))]
        } else {
            fields += [ConnectionField.auth.rawValue, ConnectionAuth.app.rawValue]
        }
        if claimed { fields += [ConnectionField.createdAt.rawValue, String(now.milliseconds)] }
        var commands: [[String]] = [
            ["HSET", keys.connection(id)] + fields,
            ["HDEL", keys.connection(id), ConnectionField.errorCode.rawValue, ConnectionField.errorMessage.rawValue]
                + (auth == .app ? [ConnectionField.credentials.rawValue, ConnectionField.parentId.rawValue] : [ConnectionField.auth.rawValue]),
            ["SADD", keys.connections, id],
        ]
        if auth == .app, !claimed, let formerParent = try await redis.send(["HGET", keys.connection(id), ConnectionField.parentId.rawValue]).string {
            commands.append(["SREM", keys.children(formerParent), id])
        }
        if claimed { commands.append(["ZADD", keys.connectionOrder, "0", Self.orderMember(id: id, createdAt: now.milliseconds)]) }
        if auth == .delegated, let parentId {
            commands.append(["HSET", keys.connection(id), ConnectionField.parentId.rawValue, parentId])
            commands.append(["SADD", keys.children(parentId), id])
        }
        _ = try await redis.pipeline(commands)
        guard let connection = try await connection(id) else { throw SchedulerError(message: "connection vanished while connecting") }
        return (connection, !claimed)
    }

    /// Removes the credentials (the connection shows `disconnected`); stored messages are kept.
    public func disconnect(_ id: String) async throws -> Bool {
        guard try await redis.send(["EXISTS", keys.connection(id)]).int == 1 else { return false }
        _ = try await redis.pipeline([
            ["HDEL", keys.connection(id)] + [
                ConnectionField.credentials, .errorCode, .errorMessage, .catchUpFailures, .catchUpErrorCode, .catchUpErrorMessage, .catchUpRetryAt,
            ].map(\.rawValue),
            ["HSET", keys.connection(id), ConnectionField.health.rawValue, ConnectionHealth.disconnected.rawValue],
            ["ZREM", keys.realtimeDue, id],
            ["SREM", keys.realtimeDelayed, id],
            ["ZREM", keys.renewals, id],
        ])
        return true
    }

    public func setHealth(_ id: String, _ health: ConnectionHealth, error: (code: BackfillErrorCode, message: String)? = nil) async throws {
        var commands: [[String]] = [["HSET", keys.connection(id), ConnectionField.health.rawValue, health.rawValue]]
        if let error {
            commands.append([
                "HSET", keys.connection(id), ConnectionField.errorCode.rawValue, error.code.rawValue, ConnectionField.errorMessage.rawValue, error.message,
            ])
        } else {
            commands.append(["HDEL", keys.connection(id)] + [ConnectionField.errorCode, .errorMessage].map(\.rawValue))
        }
        _ = try await redis.pipeline(commands)
    }

    /// One page of connections in the order they were first connected, each with its backfill, read in
    /// two round trips (the page's members, then one pipeline of both hashes per connection) and a third
    /// only for parents that are not on the page. `after` is the previous page's `next`.
    public func page(after: String?, limit: Int) async throws -> ConnectionPage {
        let start = after.map { "(" + $0 } ?? "-"
        let members = try await redis.send(["ZRANGE", keys.connectionOrder, start, "+", "BYLEX", "LIMIT", "0", String(limit + 1)]).strings
        let onPage = Array(members.prefix(limit))
        let ids = onPage.map(Self.id(ofOrderMember:))
        // Only the fields a view shows: not the sealed credentials, not the provider's cursor.
        // One transaction: a script that moves both (a failed backfill puts its connection in error) never shows half done.
        let replies = try await redis.transaction(ids.flatMap { [
            ["HMGET", keys.connection($0)] + Self.viewFields, ["HMGET", keys.backfill($0)] + BackfillRecord.viewFields,
        ] })
        var entries: [ConnectionPage.Entry] = []
        for index in ids.indices {
            let values = (replies[2 * index].array ?? []).map(\.string)
            guard let connection = Self.decode(fields: Dictionary(uniqueKeysWithValues: zip(ConnectionField.view, values).compactMap { key, value in
                value.map { (key, $0) }
            })) else { continue }
            let backfill = BackfillRecord(viewReply: (replies[2 * index + 1].array ?? []).map(\.string))
            entries.append(ConnectionPage.Entry(connection: connection, backfill: backfill))
        }
        var addresses = Dictionary(entries.map { ($0.connection.id, $0.connection.address) }, uniquingKeysWith: { first, _ in first })
        let missing = Array(Set(entries.compactMap(\.connection.parentId)).subtracting(addresses.keys)).sorted()
        if !missing.isEmpty {
            let parents = try await redis.pipeline(missing.map { ["HGET", keys.connection($0), ConnectionField.address.rawValue] })
            for (id, reply) in zip(missing, parents) { addresses[id] = reply.string }
        }
        return ConnectionPage(
            entries: entries, parentAddresses: addresses.filter { key, _ in entries.contains { $0.connection.parentId == key } },
            next: members.count > limit ? onPage.last : nil
        )
    }

    /// Whether `text` can be a page cursor (an order member): `after` comes from clients.
    public static func isPageCursor(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 1)
        return text.utf8.count <= 128 && parts.count == 2 && parts[0].utf8.count == 15 && parts[0].allSatisfy(\.isASCII)
            && parts[0].allSatisfy(\.isNumber) && !parts[1].isEmpty
            && parts[1].utf8.allSatisfy { $0 == UInt8(ascii: "_") || (48...57).contains($0) || (97...122).contains($0) }
    }

    /// Puts every connection in the paging order that is not in it yet (connections made before the order
    /// existed). Cheap when nothing is missing: two counts. Run at startup.
    public func indexConnectionOrder() async throws {
        let counts = try await redis.pipeline([["SCARD", keys.connections], ["ZCARD", keys.connectionOrder]])
        guard (counts[0].int ?? 0) != (counts[1].int ?? 0) else { return }
        let ids = try await redis.send(["SMEMBERS", keys.connections]).strings
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            let created = try await redis.pipeline(chunk.map { ["HGET", keys.connection($0), ConnectionField.createdAt.rawValue] })
            let members = zip(chunk, created).flatMap { id, reply in
                ["0", Self.orderMember(id: id, createdAt: reply.string.flatMap(Int64.init) ?? 0)]
            }
            _ = try await redis.send(["ZADD", keys.connectionOrder, "NX"] + members)
        }
    }

    /// `{createdAt ms, 15 digits}:{id}`: members of equal score sort by bytes, so by creation time.
    static func orderMember(id: String, createdAt: Int64) -> String {
        let digits = String(max(0, createdAt))
        return String(repeating: "0", count: max(0, 15 - digits.count)) + digits + ":" + id
    }

    static func id(ofOrderMember member: String) -> String {
        member.split(separator: ":", maxSplits: 1).last.map(String.init) ?? member
    }

    public func list() async throws -> [Connection] {
        let ids = try await redis.send(["SMEMBERS", keys.connections]).strings.sorted()
        let replies = try await redis.pipeline(ids.map { ["HGETALL", keys.connection($0)] })
        return replies.compactMap { Self.decode($0) }.sorted { $0.createdAt < $1.createdAt }
    }

    public func children(of id: String) async throws -> [String] {
        try await redis.send(["SMEMBERS", keys.children(id)]).strings.sorted()
    }

    // MARK: ConnectionDirectory

    public func connection(_ id: String) async throws -> Connection? {
        Self.decode(try await redis.send(["HGETALL", keys.connection(id)]))
    }

    /// The connection with its backfill, read in one transaction: a script that moves both (a failed backfill
    /// puts its connection in error) is seen before or after, never half done. Nil when the id is unknown.
    public func entry(_ id: String) async throws -> ConnectionPage.Entry? {
        let replies = try await redis.transaction([["HGETALL", keys.connection(id)], ["HGETALL", keys.backfill(id)]])
        guard let connection = Self.decode(replies[0]) else { return nil }
        let backfill = replies[1].strings
        return ConnectionPage.Entry(connection: connection, backfill: backfill.isEmpty ? nil : BackfillRecord(flat: backfill))
    }

    public func credentials(for id: String) async throws -> OAuthCredentials? {
        guard let sealed = try await redis.send(["HGET", keys.connection(id), ConnectionField.credentials.rawValue]).string else { return nil }
        return try JSONDecoder().decode(OAuthCredentials.self, from: try sealer.open(sealed))
    }

    public func updateCredentials(_ credentials: OAuthCredentials, for id: String) async throws {
        let sealed = try sealer.seal(try JSONEncoder().encode(credentials))
        _ = try await redis.send(["HSET", keys.connection(id), ConnectionField.credentials.rawValue, sealed])
    }

    public func listSkipped(_ skipped: [SkippedMessage], for id: String) async throws {
        try await Scheduler.recordSkipped(skipped, connectionId: id, redis: redis, keys: keys)
    }

    public func recordRefusal(of id: String, code: BackfillErrorCode, message: String) async throws {
        guard try await redis.send(["HGET", keys.connection(id), ConnectionField.health.rawValue]).string != ConnectionHealth.disconnected.rawValue else { return }
        _ = try await redis.pipeline([
            ["HSET", keys.connection(id), ConnectionField.health.rawValue, ConnectionHealth.error.rawValue,
             ConnectionField.errorCode.rawValue, code.rawValue, ConnectionField.errorMessage.rawValue, message],
            ["ZREM", keys.realtimeDue, id],
            ["SREM", keys.realtimeDelayed, id],
        ])
        try await Scheduler.childrenWaitOnParent(id, redis: redis, keys: keys)
    }

    public func syncState(for id: String) async throws -> [String: String] {
        let flat = try await redis.send(["HGETALL", keys.sync(id)]).strings
        var state: [String: String] = [:]
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() { state[key] = value }
        return state
    }

    public func updateSyncState(_ changes: [String: String], for id: String) async throws {
        let sets = changes.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
        let removals = changes.filter(\.value.isEmpty).keys.sorted()
        var commands: [[String]] = []
        if !sets.isEmpty { commands.append(["HSET", keys.sync(id)] + sets) }
        if !removals.isEmpty { commands.append(["HDEL", keys.sync(id)] + removals) }
        if !commands.isEmpty { _ = try await redis.pipeline(commands) }
    }

    /// A secret of the connection's sync state, sealed at rest like the credentials (Graph's `clientState`);
    /// nil when absent or unreadable.
    public func secret(_ field: String, for id: String) async throws -> String? {
        guard let sealed = try await redis.send(["HGET", keys.sync(id), field]).string else { return nil }
        return (try? sealer.open(sealed)).map { String(decoding: $0, as: UTF8.self) }
    }

    public func setSecret(_ value: String, field: String, for id: String) async throws {
        _ = try await redis.send(["HSET", keys.sync(id), field, try sealer.seal(Data(value.utf8))])
    }

    /// The connection hash's fields a view shows (not the credentials).
    static let viewFields = ConnectionField.view.map(\.rawValue)

    private static func decode(_ reply: RedisReply) -> Connection? {
        let flat = reply.strings
        var fields: [ConnectionField: String] = [:]
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() {
            if let field = ConnectionField(rawValue: key) { fields[field] = value }
        }
        return decode(fields: fields)
    }

    private static func decode(fields: [ConnectionField: String]) -> Connection? {
        func date(_ field: ConnectionField) -> Date? {
            fields[field].flatMap(Int64.init).map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
        guard let id = fields[.id], let provider = fields[.provider].flatMap(ProviderKind.init(rawValue:)),
              let address = fields[.address] else { return nil }
        var failing: RealtimeFailing?
        if let failures = fields[.catchUpFailures].flatMap(Int.init), failures > 0,
           let code = fields[.catchUpErrorCode].flatMap(BackfillErrorCode.init(rawValue:)) {
            failing = RealtimeFailing(
                failures: failures, code: code, message: fields[.catchUpErrorMessage] ?? "", nextTryAt: date(.catchUpRetryAt))
        }
        return Connection(
            id: id, provider: provider, address: address, parentId: fields[.parentId],
            health: fields[.health].flatMap(ConnectionHealth.init(rawValue:)) ?? .healthy,
            errorCode: fields[.errorCode].flatMap(BackfillErrorCode.init(rawValue:)), errorMessage: fields[.errorMessage],
            createdAt: date(.createdAt) ?? Date(timeIntervalSince1970: 0),
            realtime: fields[.realtimeMode].flatMap(RealtimeStatus.Mode.init(rawValue:)).map { mode in
                RealtimeStatus(mode: mode, lastCatchUpAt: date(.lastCatchUpAt), channelExpiresAt: date(.channelExpiresAt), failing: failing)
            },
            auth: fields[.auth].flatMap(ConnectionAuth.init(rawValue:)) ?? .delegated
        )
    }
}

extension RedisConnectionDirectory {
    /// Connections whose push channel is due for renewal at `now` (at most `limit`), in due order.
    public func dueRenewals(at now: Date, limit: Int) async throws -> [Connection] {
        let ids = try await redis.send([
            "ZRANGEBYSCORE", keys.renewals, "-inf", String(now.milliseconds), "LIMIT", "0", String(limit),
        ]).strings
        let replies = try await redis.pipeline(ids.map { ["HGETALL", keys.connection($0)] })
        let found = replies.compactMap(Self.decode)
        let gone = Set(ids).subtracting(found.map(\.id))
        if !gone.isEmpty { _ = try await redis.send(["ZREM", keys.renewals] + gone.sorted()) }
        return found
    }

    /// What the subscription keeper found: the mode new mail arrives in, when the channel expires, and when
    /// to look at it again. Switching to `poll` brings the next catch-up forward to a poll period away.
    public func recordChannel(_ id: String, mode: RealtimeStatus.Mode, expiresAt: Date?, renewAt: Date, pollPeriod: Duration) async throws {
        var commands: [[String]] = [
            ["HSET", keys.connection(id), ConnectionField.realtimeMode.rawValue, mode.rawValue],
            ["ZADD", keys.renewals, String(renewAt.milliseconds), id],
        ]
        if let expiresAt {
            commands.append(["HSET", keys.connection(id), ConnectionField.channelExpiresAt.rawValue, String(expiresAt.milliseconds)])
        } else {
            commands.append(["HDEL", keys.connection(id), ConnectionField.channelExpiresAt.rawValue])
        }
        if mode == .poll {
            commands.append(["ZADD", keys.realtimeDue, "LT", String(Date().addingTimeInterval(pollPeriod.seconds).milliseconds), id])
        }
        _ = try await redis.pipeline(commands)
    }

    /// Takes a connection out of the renewals (it is in error or disconnected; a reconnect puts it back).
    public func dropRenewal(_ id: String) async throws {
        _ = try await redis.send(["ZREM", keys.renewals, id])
    }

    /// Brings connections made by an older version into the real-time schedules: each one that works gets a
    /// catch-up within a poll period and a channel renewal at the next tick (entries already there are kept).
    /// Runs at startup; O(connections) in pipelines of 500.
    public func scheduleUnscheduled(pollPeriod: Duration, now: Date = Date()) async throws {
        let ids = try await redis.send(["SMEMBERS", keys.connections]).strings
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            let healths = try await redis.pipeline(chunk.map { ["HGET", keys.connection($0), ConnectionField.health.rawValue] })
            var commands: [[String]] = []
            for (id, reply) in zip(chunk, healths) {
                guard let health = reply.string.flatMap(ConnectionHealth.init(rawValue:)),
                      health == .healthy || health == .syncing else { continue }
                let due = now.addingTimeInterval(Double.random(in: 0...pollPeriod.seconds))
                commands.append(["ZADD", keys.realtimeDue, "NX", String(due.milliseconds), id])
                commands.append(["ZADD", keys.renewals, "NX", "0", id])
            }
            if !commands.isEmpty { _ = try await redis.pipeline(commands) }
        }
    }

    /// The connection of a provider and address (webhooks name mailboxes by address).
    public func connectionId(provider: ProviderKind, address: String) async throws -> String? {
        try await redis.send(["HGET", keys.connectionIndex, "\(provider.rawValue):\(address.lowercased())"]).string
    }

    /// Remembers which connection a Graph subscription belongs to (notifications carry only its id).
    public func registerSubscription(_ subscriptionId: String, for id: String) async throws {
        _ = try await redis.send(["HSET", keys.subscriptionIndex, subscriptionId, id])
    }

    public func connectionId(subscriptionId: String) async throws -> String? {
        try await redis.send(["HGET", keys.subscriptionIndex, subscriptionId]).string
    }

    /// Marks that new mail may be waiting (a webhook arrived): one more on the connection's dirty count.
    /// The lease holder catches up (before its next page, or claiming for that alone) and then subtracts
    /// what it saw. Returns whether the connection exists.
    @discardableResult
    public func markDirty(_ id: String) async throws -> Bool {
        try await redis.run(SchedulerScripts.markDirty, keys: [keys.connection(id)], arguments: []).int == 1
    }

    /// Notifications not yet caught up (0: none).
    public func dirtyCount(_ id: String) async throws -> Int {
        try await redis.send(["HGET", keys.connection(id), ConnectionField.dirty.rawValue]).string.flatMap(Int.init) ?? 0
    }
}
