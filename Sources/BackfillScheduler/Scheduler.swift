import BackfillCore
import BackfillRedis
import Foundation
import Logging

/// The scheduler's state in Redis and every transition on it. Support operations (the API and CLI
/// call these) and the worker-side transitions (claim, commit, park, ...) each run one Lua script.
///
/// The Redis client and the key names stay inside this module: the HTTP side gets the connection directory
/// (`connectionDirectory(sealer:)`) and an availability probe (`probe`), never the client itself.
public final class Scheduler: Sendable {
    let redis: RedisClient
    let keys: SchedulerKeys
    public let configuration: SchedulerConfiguration
    let logger: Logger

    public init(redis: RedisClient, configuration: SchedulerConfiguration, logger: Logger) {
        self.redis = redis
        self.keys = SchedulerKeys(prefix: configuration.keyPrefix)
        self.configuration = configuration
        self.logger = logger
    }

    /// The connections in this scheduler's Redis, under its key prefix, sealing credentials with `sealer`.
    /// Whether a worker holds the connection's lease now (an unexpired owner).
    public func isLeaseHeld(connectionId: String, now: Date = Date()) async throws -> Bool {
        let fields = try await redis.send(["HMGET", keys.lease(connectionId), "owner", "expiresAt"]).array ?? []
        guard fields.count == 2, let owner = fields[0].string, !owner.isEmpty,
              let expiresAt = fields[1].string.flatMap(Int64.init) else { return false }
        return expiresAt > Int64(now.timeIntervalSince1970 * 1000)
    }

    public func connectionDirectory(sealer: any CredentialSealer) -> RedisConnectionDirectory {
        RedisConnectionDirectory(redis: redis, keys: keys, sealer: sealer)
    }

    /// Whether the scheduler's Redis answers, for the API's fail-fast and `/readyz`.
    public var probe: RedisProbe { RedisProbe(redis: redis) }

    // MARK: Support operations

    /// Starts a backfill over `range` pinned at `now`. `skip` creates none. Refused while one is unfinished.
    public func startBackfill(connectionId: String, range: BackfillRange, now: Date = Date()) async throws -> StartOutcome {
        try await create(connectionId: connectionId, range: range, now: now, mode: "create")
    }

    /// Replaces the current backfill (whatever its state) with a new one over `range`. The old one goes to
    /// the history; a worker still on it is fenced off by the lease epoch.
    public func resetBackfill(connectionId: String, range: BackfillRange, now: Date = Date()) async throws -> StartOutcome {
        try await create(connectionId: connectionId, range: range, now: now, mode: "reset")
    }

    private func create(connectionId: String, range: BackfillRange, now: Date, mode: String) async throws -> StartOutcome {
        guard let window = range.window(pinnedAt: now) else { return .skipped }
        let id = "bf_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let reply = try await run(SchedulerScripts.create, connectionId, [
            String(id), range.rawValue, String(window.start.milliseconds), String(window.end.milliseconds), mode,
        ])
        switch reply.first {
        case "created": return .created(backfillId: String(id))
        case "exists": return .alreadyRunning(BackfillState(rawValue: reply[safe: 1] ?? "") ?? .running)
        default: throw SchedulerError.unexpectedReply(script: "create", reply)
        }
    }

    /// The connection's current backfill, or nil.
    public func backfill(connectionId: String) async throws -> BackfillRecord? {
        let reply = try await redis.send(["HGETALL", keys.backfill(connectionId)])
        let flat = reply.array?.compactMap(\.string) ?? []
        return flat.isEmpty ? nil : BackfillRecord(flat: flat)
    }

    /// Past backfills of the connection, newest first.
    public func history(connectionId: String) async throws -> [BackfillRecord] {
        let reply = try await redis.send(["LRANGE", keys.history(connectionId), "0", "-1"])
        return (reply.array ?? []).compactMap { item in
            guard let data = item.string?.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return BackfillRecord(fields: object.mapValues { "\($0)" })
        }
    }

    /// Pause, resume, cancel or retry, applied atomically with the same table as the core.
    public func apply(_ command: BackfillCommand, connectionId: String) async throws -> CommandResult {
        let reply = try await run(SchedulerScripts.command, connectionId, [command.rawValue, command.event.rawValue])
        let state = reply[safe: 1].flatMap(BackfillState.init(rawValue:))
        switch (reply.first, state) {
        case ("moved", let state?): return .moved(to: state)
        case ("unchanged", let state?): return .unchanged(state)
        case ("refused", let state?):
            if case .refused(let reason) = command.outcome(in: state) { return .refused(state, reason) }
            return .refused(state, "cannot \(command.rawValue) a backfill that is \(state.rawValue)")
        case ("missing", _): return .missing
        default: throw SchedulerError.unexpectedReply(script: "command", reply)
        }
    }

    /// Wakes workers for these connections at once. Coalesced: each is queued at most once.
    @discardableResult
    public func nudge(_ connectionIds: [String]) async throws -> Int {
        guard !connectionIds.isEmpty else { return 0 }
        let reply = try await redis.run(SchedulerScripts.nudge, keys: [keys.nudged, keys.nudges], arguments: connectionIds)
        return reply.int ?? 0
    }

    /// A provider said new mail may be waiting: marks the connection dirty and wakes a worker unless one
    /// holds it already (which then catches up, told by `news` on its lease, and queues it again itself).
    /// False: no such connection.
    @discardableResult
    public func notify(_ connectionId: String) async throws -> Bool {
        let reply = try await redis.run(
            SchedulerScripts.notify, keys: [keys.connection(connectionId), keys.lease(connectionId), keys.nudged, keys.nudges],
            arguments: [connectionId]
        )
        return (reply.int ?? -1) >= 0
    }

    /// The connection's own token stopped working: its shared mailboxes wait on it (see
    /// `SchedulerScripts.childrenWait`). Returns how many were marked.
    @discardableResult
    public func childrenWaitOnParent(_ parentId: String) async throws -> Int {
        try await Self.childrenWaitOnParent(parentId, redis: redis, keys: keys)
    }

    @discardableResult
    static func childrenWaitOnParent(_ parentId: String, redis: RedisClient, keys: SchedulerKeys) async throws -> Int {
        let address = try await redis.send(["HGET", keys.connection(parentId), ConnectionField.address.rawValue]).string ?? "the parent mailbox"
        return try await redis.run(
            SchedulerScripts.childrenWait, keys: [keys.children(parentId), keys.realtimeDue],
            arguments: [keys.connectionPrefix, ProviderFailure.parentUnavailable(address).message]
        ).int ?? 0
    }

    /// A parent connection is usable again: its children waiting on it go back to the queue.
    public func parentReconnected(children: [String]) async throws {
        for child in children {
            _ = try await run(SchedulerScripts.parentBack, child, [])
        }
    }

    /// How many connections' real time is delayed: catch-ups failed `RealtimeFailing.shownAfter` times in a row or more.
    public func realtimeDelayedCount() async throws -> Int {
        try await redis.send(["SCARD", keys.realtimeDelayed]).int ?? 0
    }

    /// How many backfills are in each state, across all connections (kept by the scripts; one read).
    public func stateCounts() async throws -> [BackfillState: Int] {
        let flat = try await redis.send(["HGETALL", keys.stateCounts]).strings
        var counts = Dictionary(uniqueKeysWithValues: BackfillState.allCases.map { ($0, 0) })
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() {
            if let state = BackfillState(rawValue: key) { counts[state] = Int(value) ?? 0 }
        }
        return counts
    }

    /// Counts the backfills by state anew (at startup): heals counts left by an older version.
    @discardableResult
    public func recountStates() async throws -> Int {
        try await redis.run(SchedulerScripts.recountStates, keys: [keys.connections, keys.stateCounts], arguments: [keys.backfillPrefix]).int ?? 0
    }

    /// Counters shared by all instances (`P:stats`).
    public func stats() async throws -> [String: Int] {
        let flat = try await redis.send(["HGETALL", keys.stats]).array?.compactMap(\.string) ?? []
        var stats: [String: Int] = [:]
        var iterator = flat.makeIterator()
        while let key = iterator.next(), let value = iterator.next() { stats[key] = Int(value) }
        return stats
    }

    // MARK: Worker-side transitions

    func claim(connectionId: String, owner: String) async throws -> ClaimResult {
        let reply = try await run(SchedulerScripts.claim, connectionId, [owner, String(configuration.leaseDuration.milliseconds)])
        switch reply.first {
        case "claimed":
            guard let epoch = reply[safe: 1], let latency = reply[safe: 2].flatMap(Int.init),
                  let record = BackfillRecord(flat: reply.dropFirst(5))
            else { throw SchedulerError.unexpectedReply(script: "claim", reply) }
            let lease = Lease(connectionId: connectionId, owner: owner, epoch: epoch)
            return .claimed(lease, record, nudgeLatency: latency >= 0 ? .milliseconds(latency) : nil, dirty: Int(reply[3]) ?? 0,
                            recoveredLease: reply[4] == "1")
        case "catchup":
            guard let epoch = reply[safe: 1], let dirty = reply[safe: 2].flatMap(Int.init) else {
                throw SchedulerError.unexpectedReply(script: "claim", reply)
            }
            return .catchUpOnly(Lease(connectionId: connectionId, owner: owner, epoch: epoch), dirty: dirty)
        case "none", "idle", "wait", "busy": return .notClaimed(reply.first ?? "")
        default: throw SchedulerError.unexpectedReply(script: "claim", reply)
        }
    }

    /// Records a stored page (see `SchedulerScripts.commit`): fenced by the lease's epoch.
    func commit(_ lease: Lease, _ page: PageCommit) async throws -> CommitAnswer {
        try await CommitAnswer(reply: run(SchedulerScripts.commit, lease.connectionId, lease.arguments + [
            String(page.pulled), String(page.pages), page.nextCursor ?? "", page.nextCursor == nil ? "last" : page.yields ? "yield" : "",
            String(configuration.leaseDuration.milliseconds), page.renewal.rawValue, page.clearsError ? "1" : "0",
            page.estimatedTotal.map(String.init) ?? "",
        ]))
    }

    /// Subtracts the dirty marks a finished catch-up answered and schedules the next catch-up; `.stale` when
    /// the lease was lost meanwhile.
    func clearDirty(_ lease: Lease, seen: Int, jitter: Double = Double.random(in: -1...1)) async throws -> ClearDirtyReply {
        let poll = Int64(Double(configuration.pollPeriod.milliseconds) * (1 + 0.1 * min(max(jitter, -1), 1)))
        return try await ClearDirtyReply(reply: run(SchedulerScripts.clearDirty, lease.connectionId, lease.arguments + [
            String(seen), String(poll), String(configuration.pushSafetyPeriod.milliseconds),
        ]))
    }

    /// What a failed catch-up leaves behind (see `SchedulerScripts.catchUpFailed`).
    enum CatchUpFailure: String, Sendable {
        /// A passing failure: the next catch-up comes after a backoff.
        case retry
        /// The connection's own token or permission is gone: `error` until a reconnect.
        case broken
        /// The parent's token does not work: `waiting_on_parent` until the parent is reconnected.
        case parent
    }

    /// Records a failed catch-up; `delay` is the first wait (doubled per failure in a row up to the poll
    /// period) or, for a throttle, the exact Retry-After. Returns `.stale` when the lease was lost meanwhile.
    func catchUpFailed(_ lease: Lease, _ outcome: CatchUpFailure, failure: ProviderFailure, delay: Duration? = nil) async throws -> FencedReply {
        let first = delay ?? configuration.catchUpRetryDelay
        let longest = delay ?? configuration.pollPeriod
        return try await FencedReply(script: "catchUpFailed", success: "retry", "recorded", reply: run(SchedulerScripts.catchUpFailed, lease.connectionId, lease.arguments + [
            outcome.rawValue, failure.code.rawValue, failure.message, String(first.milliseconds), String(max(first, longest).milliseconds),
            String(RealtimeFailing.shownAfter),
        ]))
    }

    /// Starts the catch-ups that are due (the promoter calls it). Returns how many started and when the
    /// next is due on Redis's clock (nil: none scheduled), with Redis's now.
    func startDueCatchUps(batch: Int) async throws -> (started: Int, next: Int64?, now: Int64) {
        let reply = try await redis.run(
            SchedulerScripts.dueCatchUps, keys: [keys.realtimeDue, keys.nudged, keys.nudges],
            arguments: [String(batch), String(configuration.pollPeriod.milliseconds), keys.connectionPrefix, keys.leasePrefix]
        ).strings
        guard reply.count == 3, let started = Int(reply[0]), let next = Int64(reply[1]), let now = Int64(reply[2]) else {
            throw SchedulerError.unexpectedReply(script: "dueCatchUps", reply)
        }
        return (started, next < 0 ? nil : next, now)
    }

    func prepared(_ lease: Lease, estimatedTotal: Int) async throws -> FencedReply {
        try await FencedReply(script: "prepared", success: "ok", reply: run(SchedulerScripts.prepared, lease.connectionId, lease.arguments + [String(estimatedTotal)]))
    }

    func complete(_ lease: Lease) async throws -> CompleteReply {
        try await CompleteReply(reply: run(SchedulerScripts.complete, lease.connectionId, lease.arguments))
    }

    func park(_ lease: Lease, delay: Duration, state: BackfillState, failure: ProviderFailure, countsAsFailure: Bool) async throws -> StopReply {
        try await StopReply(script: "park", success: "parked", reply: run(SchedulerScripts.park, lease.connectionId, lease.arguments + [
            String(delay.milliseconds), state.rawValue, failure.code.rawValue, failure.message, countsAsFailure ? "1" : "0",
        ]))
    }

    func stop(_ lease: Lease, state: BackfillState, code: BackfillErrorCode, message: String) async throws -> StopReply {
        try await StopReply(script: "stop", success: "stopped", reply: run(SchedulerScripts.stop, lease.connectionId, lease.arguments + [
            state.rawValue, code.rawValue, message, code.isRetryable ? "1" : "0",
        ]))
    }

    /// Gives the lease back; `afterSlice`: the holder ran a backfill's slice (it is queued again at the
    /// tail unless paused or cancelled meanwhile), not a catch-up-only claim.
    @discardableResult
    func release(_ lease: Lease, afterSlice: Bool) async throws -> FencedReply {
        try await FencedReply(script: "release", success: "released", reply: run(SchedulerScripts.release, lease.connectionId, lease.arguments + [
            afterSlice ? "1" : "0",
        ]))
    }

    // MARK: Script plumbing

    /// The per-connection key list every connection script takes (see `SchedulerScripts`).
    func run(_ script: RedisScript, _ connectionId: String, _ arguments: [String]) async throws -> [String] {
        let reply = try await redis.run(script, keys: keys.scriptKeys(connectionId), arguments: [connectionId] + arguments)
        return reply.strings
    }
}

extension Scheduler {
    public enum StartOutcome: Sendable, Equatable {
        case created(backfillId: String)
        /// `skip`: no backfill; the connection goes straight to real-time sync.
        case skipped
        /// A backfill is already unfinished in this state; reset it to change the range.
        case alreadyRunning(BackfillState)
    }

    public enum CommandResult: Sendable, Equatable {
        case moved(to: BackfillState)
        case unchanged(BackfillState)
        case refused(BackfillState, String)
        case missing
    }

    enum ClaimResult: Sendable {
        /// `dirty`: notifications said new mail may be waiting (how many); catch up before the next page.
        /// `recoveredLease`: the lease was taken over from a holder whose lease expired (a killed worker).
        case claimed(Lease, BackfillRecord, nudgeLatency: Duration?, dirty: Int, recoveredLease: Bool)
        /// Nothing to backfill, but notifications marked the connection dirty: catch up, then release.
        case catchUpOnly(Lease, dirty: Int)
        case notClaimed(String)
    }

    enum CommitAnswer: Sendable, Equatable {
        /// `pulled`: the backfill's count with this page; `dirty`: notifications not yet caught up (0: none,
        /// or nothing new since the claim: only `news` on the lease makes the commit read the count).
        case proceed(pulled: Int, dirty: Int)
        /// The last page's commit completed the backfill (and released the lease).
        case completed(pulled: Int)
        /// The slice's last page: the lease is released and the connection queued again at the tail.
        case yielded(pulled: Int)
        /// The user paused or cancelled: the page is recorded and the lease released.
        case pause, cancel
        case stale

        init(reply: [String]) throws {
            switch reply.first {
            case "continue":
                guard let pulled = reply[safe: 1].flatMap(Int.init), let dirty = reply[safe: 2].flatMap(Int.init) else {
                    throw SchedulerError.unexpectedReply(script: "commit", reply)
                }
                self = .proceed(pulled: pulled, dirty: dirty)
            case "completed", "yielded":
                guard let pulled = reply[safe: 1].flatMap(Int.init) else { throw SchedulerError.unexpectedReply(script: "commit", reply) }
                self = reply.first == "completed" ? .completed(pulled: pulled) : .yielded(pulled: pulled)
            case "pause": self = .pause
            case "cancel": self = .cancel
            case "stale": self = .stale
            default: throw SchedulerError.unexpectedReply(script: "commit", reply)
            }
        }
    }
}

/// A worker's hold on a connection: the fencing epoch it claimed with.
struct Lease: Sendable, Equatable {
    var connectionId: String
    var owner: String
    var epoch: String

    var arguments: [String] { [owner, epoch] }
}

public struct SchedulerError: Error, Sendable, CustomStringConvertible {
    public var message: String

    static func unexpectedReply(script: String, _ reply: [String]) -> SchedulerError {
        SchedulerError(message: "script \(script) replied unexpectedly: \(reply.prefix(3))")
    }

    public var description: String { message }
}

extension RedisReply {
    /// The elements of an array reply as strings (integers spelled out); a scalar as one element.
    var strings: [String] {
        (array ?? [self]).compactMap { $0.string ?? $0.int.map(String.init) }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension Date {
    var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}
