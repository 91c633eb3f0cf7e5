import BackfillCore
import BackfillRedis
import Foundation

/// Connections, their sealed credentials and their real-time sync state, in Redis.
/// Keys (under the scheduler's prefix, documented with the others in `SchedulerKeys`):
/// `P:conn:{id}` hash (`id provider address parentId health errorCode errorMessage createdAt credentials`),
/// `P:sync:{id}` hash (the provider's real-time state), `P:conn:index` hash (`provider:address` → id),
/// `P:connections` set (every id), `P:children:{id}` set (shared mailboxes under a personal connection).
public struct RedisConnectionDirectory: ConnectionDirectory {
    let redis: RedisClient
    let keys: SchedulerKeys
    let sealer: any CredentialSealer

    public init(redis: RedisClient, keys: SchedulerKeys, sealer: any CredentialSealer) {
        self.redis = redis
        self.keys = keys
        self.sealer = sealer
    }

    /// Connects a mailbox. The same provider and address keep their connection id (a reconnect keeps
    /// every stored message): only the credentials are replaced and the health reset.
    public func connect(
        provider: ProviderKind, address: String, credentials: OAuthCredentials, parentId: String?, now: Date = Date()
    ) async throws -> (connection: Connection, reconnected: Bool) {
        let indexField = "\(provider.rawValue):\(address.lowercased())"
        let candidate = "c_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let claimed = try await redis.send(["HSETNX", keys.connectionIndex, indexField, String(candidate)]).int == 1
        let id = claimed ? String(candidate) : (try await redis.send(["HGET", keys.connectionIndex, indexField]).string ?? String(candidate))
        let sealed = try sealer.seal(try JSONEncoder().encode(credentials))
        var fields = ["id", id, "provider", provider.rawValue, "address", address, "health", ConnectionHealth.healthy.rawValue,
                      "credentials", sealed]
        if claimed { fields += ["createdAt", String(now.milliseconds)] }
        var commands: [[String]] = [
            ["HSET", keys.connection(id)] + fields,
            ["HDEL", keys.connection(id), "errorCode", "errorMessage"],
            ["SADD", keys.connections, id],
        ]
        if let parentId {
            commands.append(["HSET", keys.connection(id), "parentId", parentId])
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
            ["HDEL", keys.connection(id), "credentials", "errorCode", "errorMessage"],
            ["HSET", keys.connection(id), "health", ConnectionHealth.disconnected.rawValue],
        ])
        return true
    }

    public func setHealth(_ id: String, _ health: ConnectionHealth, error: (code: BackfillErrorCode, message: String)? = nil) async throws {
        var commands: [[String]] = [["HSET", keys.connection(id), "health", health.rawValue]]
        if let error {
            commands.append(["HSET", keys.connection(id), "errorCode", error.code.rawValue, "errorMessage", error.message])
        } else {
            commands.append(["HDEL", keys.connection(id), "errorCode", "errorMessage"])
        }
        _ = try await redis.pipeline(commands)
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

    public func credentials(for id: String) async throws -> OAuthCredentials? {
        guard let sealed = try await redis.send(["HGET", keys.connection(id), "credentials"]).string else { return nil }
        return try JSONDecoder().decode(OAuthCredentials.self, from: try sealer.open(sealed))
    }

    public func updateCredentials(_ credentials: OAuthCredentials, for id: String) async throws {
        let sealed = try sealer.seal(try JSONEncoder().encode(credentials))
        _ = try await redis.send(["HSET", keys.connection(id), "credentials", sealed])
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

    private static func decode(_ reply: RedisReply) -> Connection? {
        let flat = reply.strings
        var fields: [String: String] = [:]
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() { fields[key] = value }
        guard let id = fields["id"], let provider = fields["provider"].flatMap(ProviderKind.init(rawValue:)),
              let address = fields["address"] else { return nil }
        return Connection(
            id: id, provider: provider, address: address, parentId: fields["parentId"],
            health: fields["health"].flatMap(ConnectionHealth.init(rawValue:)) ?? .healthy,
            errorCode: fields["errorCode"].flatMap(BackfillErrorCode.init(rawValue:)), errorMessage: fields["errorMessage"],
            createdAt: fields["createdAt"].flatMap(Int64.init).map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? Date(timeIntervalSince1970: 0)
        )
    }
}

extension RedisConnectionDirectory {
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
        guard try await redis.send(["EXISTS", keys.connection(id)]).int == 1 else { return false }
        _ = try await redis.send(["HINCRBY", keys.connection(id), "dirty", "1"])
        return true
    }

    /// Notifications not yet caught up (0: none).
    public func dirtyCount(_ id: String) async throws -> Int {
        try await redis.send(["HGET", keys.connection(id), "dirty"]).string.flatMap(Int.init) ?? 0
    }
}
