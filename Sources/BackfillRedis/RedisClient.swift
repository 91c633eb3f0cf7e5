import Logging
import Foundation

/// A Redis client: a small pool of connections for ordinary commands, dedicated connections for
/// blocking commands, Lua scripts by SHA. Safe to share; every method may be called concurrently.
public final class RedisClient: Sendable {
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let pool: [RedisConnection]
    private let state: LockedState
    private let availability: RedisAvailability

    /// Mutable state shared by callers, behind one lock.
    private final class LockedState: @unchecked Sendable {
        private let lock = NSLock()
        private var isClosed = false
        /// Idle dedicated connections for blocking commands, kept for reuse.
        private var idleBlocking: [RedisConnection] = []
        /// Dedicated connections currently running a blocking command.
        private var busyBlocking: [ObjectIdentifier: RedisConnection] = [:]
        /// SHA of each script's source, from `SCRIPT LOAD`.
        private var scriptHashes: [String: String] = [:]

        func scriptHash(for source: String) -> String? {
            lock.withLock { scriptHashes[source] }
        }

        func setScriptHash(_ hash: String, for source: String) {
            lock.withLock { scriptHashes[source] = hash }
        }

        /// An idle dedicated connection, else a new one from `make`; throws once closed.
        func checkOutBlocking(make: () -> RedisConnection) throws(RedisError) -> RedisConnection {
            lock.lock()
            defer { lock.unlock() }
            guard !isClosed else { throw .clientClosed }
            let connection = idleBlocking.popLast() ?? make()
            busyBlocking[ObjectIdentifier(connection)] = connection
            return connection
        }

        /// Returns a dedicated connection for reuse; false when the client closed meanwhile.
        func checkInBlocking(_ connection: RedisConnection) -> Bool {
            lock.withLock {
                busyBlocking[ObjectIdentifier(connection)] = nil
                guard !isClosed else { return false }
                idleBlocking.append(connection)
                return true
            }
        }

        /// Marks the client closed and hands back every dedicated connection.
        func close() -> [RedisConnection] {
            lock.withLock {
                isClosed = true
                let all = idleBlocking + busyBlocking.values
                idleBlocking = []
                return all
            }
        }
    }

    /// Connections are opened lazily, by the first command that needs one.
    public init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let availability = RedisAvailability()
        self.availability = availability
        pool = (0..<configuration.poolSize).map { _ in
            RedisConnection(configuration: configuration, logger: logger, availability: availability)
        }
        state = LockedState()
    }

    deinit {
        for connection in pool { connection.closeSoon() }
        for connection in state.close() { connection.closeSoon() }
    }

    /// Sends one command and returns its reply; an error reply throws `RedisError` with code `.server`.
    public func send(_ command: [String]) async throws -> RedisReply {
        try await leastLoaded().send(command)
    }

    /// Sends one command with binary arguments (values may contain any byte, NUL included).
    public func send(bytes command: [[UInt8]]) async throws -> RedisReply {
        try await leastLoaded().send(bytes: command)
    }

    /// Sends the commands in one write and returns their replies in order; error replies are returned
    /// inline as `.error`. A connection failure or timeout fails the whole pipeline.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        return try await leastLoaded().pipeline(commands)
    }

    /// Runs the commands as one `MULTI`/`EXEC` transaction, sent in one write: no other client's command runs
    /// between them, so reads of several keys see one moment. Returns their replies in order (an error reply
    /// inline, as `pipeline` does); a command Redis refuses to queue fails the whole with `.server`.
    public func transaction(_ commands: [[String]]) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let replies = try await pipeline([["MULTI"]] + commands + [["EXEC"]])
        switch replies.last {
        case .array(let results)? where results.count == commands.count: return results
        case .error(let message)?: throw RedisError(code: .server, message: message)
        default: throw RedisError(code: .protocol, message: "EXEC did not answer one reply per command")
        }
    }

    /// Runs a script with `EVALSHA`; when the server does not know it (`NOSCRIPT`: first use, a restart,
    /// `SCRIPT FLUSH`), loads it with `SCRIPT LOAD` and retries once.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisReply {
        if let hash = state.scriptHash(for: script.source) {
            do {
                return try await send(["EVALSHA", hash, String(keys.count)] + keys + arguments)
            } catch let error as RedisError where error.code == .server && error.message.hasPrefix("NOSCRIPT") {
                logger.debug("redis script reloaded", metadata: [RedisLogKey.script: "\(script.name)"])
            }
        }
        let hash = try await load(script)
        return try await send(["EVALSHA", hash, String(keys.count)] + keys + arguments)
    }

    /// Runs a blocking command (`BLPOP key 5`) on a dedicated connection, kept for reuse afterwards.
    /// `timeout` must be longer than the command's own block time; past it the call fails with `.timeout`.
    public func blocking(_ command: [String], timeout: Duration) async throws -> RedisReply {
        let connection = try state.checkOutBlocking {
            RedisConnection(configuration: configuration, logger: logger, availability: availability)
        }
        defer {
            if !state.checkInBlocking(connection) { connection.closeSoon() }
        }
        return try await connection.send(command, timeout: timeout)
    }

    /// True while the server is known to be down: a connect attempt failed and neither has a connect
    /// succeeded since nor is that connection's next attempt due yet (its backoff, at most 1 s). Costs a
    /// lock, no I/O. Callers that must answer at once (an API) refuse work while it holds; what they would
    /// have sent is not lost, since the server is not there to take it.
    public var isKnownDown: Bool { availability.isKnownDown }

    /// Runs `operation` with fail-fast commands: while their connection cannot reach the server (a connect
    /// attempt just failed, the next is not due yet, or the client knows the server is down) they fail at
    /// once with `.connection` instead of waiting for a reconnect until their timeout. For request
    /// handlers, whose callers would rather hear "unavailable" now. Other tasks (workers) keep waiting.
    public static func failingFast<Result>(
        isolation: isolated (any Actor)? = #isolation, _ operation: () async throws -> Result
    ) async rethrows -> Result {
        try await RedisFailFast.$isOn.withValue(true, operation: operation, isolation: isolation)
    }

    /// Sends PING on a dedicated connection (the pool's timeouts stay as they are) and returns the reply,
    /// within `timeout` (connecting included) and failing fast like `failingFast`: for readiness checks,
    /// which must answer within a bound whatever the server does.
    public func ping(timeout: Duration) async throws -> RedisReply {
        try await Self.failingFast { try await blocking(["PING"], timeout: timeout) }
    }

    /// The thread of the first pool connection, as an executor. A task that awaits commands one after
    /// another (`withTaskExecutorPreference(client.executor) { ... }`) runs on the thread that does the
    /// I/O, so each round trip costs no thread wake-up. Keep CPU-heavy work off it: it delays the I/O.
    @available(macOS 15.0, *)
    public var executor: any TaskExecutor { pool[0] }

    /// Fails new and queued commands with `.closed` and returns once every connection is closed.
    public func close() async {
        let dedicated = state.close()
        for connection in pool + dedicated { await connection.close() }
    }

    private func load(_ script: RedisScript) async throws -> String {
        let reply: RedisReply
        do {
            reply = try await send(["SCRIPT", "LOAD", script.source])
        } catch let error as RedisError where error.code == .server {
            throw RedisError(code: .server, message: "script \(script.name) failed to load: \(error.message)")
        }
        guard let hash = reply.string else {
            throw RedisError(code: .protocol, message: "SCRIPT LOAD for \(script.name) returned no SHA")
        }
        state.setScriptHash(hash, for: script.source)
        return hash
    }

    /// The first idle connection, else the one with the fewest requests queued. A sequential caller
    /// thus keeps using one connection, whose thread is already awake.
    private func leastLoaded() -> RedisConnection {
        var best = pool[0]
        var bestLoad = Int.max
        for connection in pool {
            let load = connection.currentLoad
            if load == 0 { return connection }
            if load < bestLoad { (best, bestLoad) = (connection, load) }
        }
        return best
    }
}
