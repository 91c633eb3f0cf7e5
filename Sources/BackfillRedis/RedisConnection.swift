import Foundation
import Logging

/// One Redis connection driven by its own thread. Callers enqueue requests under a lock and suspend;
/// the thread takes every queued request at once, writes all their commands, reads the replies and
/// resumes each continuation directly. Blocking hiredis calls therefore never run on Swift's
/// cooperative pool, and concurrent callers share round trips.
///
/// A dropped connection is reconnected on the next request, with backoff while the server is away;
/// requests wait for the reconnect until their timeout. Fail-fast requests (`RedisClient.failingFast`)
/// do not wait: they fail with `.connection` as soon as a connect attempt fails, while the next attempt
/// is not due yet, or while the client knows the server is down (`RedisAvailability`).
final class RedisConnection: @unchecked Sendable {
    /// What a request carries in and how its result goes back.
    enum Payload {
        case command([String], UnsafeContinuation<RedisReply, any Error>)
        case binaryCommand([[UInt8]], UnsafeContinuation<RedisReply, any Error>)
        case pipeline([[String]], UnsafeContinuation<[RedisReply], any Error>)
    }

    struct Request {
        var payload: Payload
        /// Overrides the configured command timeout (blocking commands).
        var timeout: Duration?
        /// Set when the request first has to wait for a reconnect.
        var deadline: ContinuousClock.Instant?
        /// Fails instead of waiting for a reconnect (sent under `RedisClient.failingFast`).
        var failsFast = RedisFailFast.isOn
    }

    private let configuration: RedisConfiguration
    private let logger: Logger
    private let availability: RedisAvailability

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Request] = []
    /// Tasks that prefer this connection's thread as their executor.
    private var jobs: [UnownedJob] = []
    private var load = 0
    private var isClosed = false
    private var isRunning = false
    /// The thread waits for a reconnect (backoff): a fail-fast request queued now fails at once.
    private var isWaitingForReconnect = false
    private var closeWaiters: [UnsafeContinuation<Void, Never>] = []

    // Owned by the connection thread.
    private var takenJobs: [UnownedJob] = []
    private var takenRequests: [Request] = []
    private var context: HiredisContext?
    private var lastUse = ContinuousClock.now
    private var nextConnectAttempt = ContinuousClock.now
    private var backoff = Duration.zero
    private var lastConnectError = RedisError(code: .connection, message: "not connected yet")
    /// How long the first reply of a batch took to come, smoothed: the round trip as this thread sees it.
    private var replyTime = Duration.zero

    /// A socket idle this long is checked for a server-side close (a restart) before it is used again,
    /// so the first command after a restart reconnects instead of failing. Busy loops skip the check.
    private static let staleCheckAfter = Duration.milliseconds(1)
    private static let followUpWindow = Duration.microseconds(50)
    /// A server that usually answers within this (a local one) is polled for its reply before the thread
    /// blocks in `read`: sleeping and being woken again would cost more than the wait.
    private static let spinLimit = Duration.microseconds(100)
    private static let spinMargin = Duration.microseconds(20)
    private static let firstBackoff = Duration.milliseconds(25)
    private static let maximumBackoff = Duration.seconds(1)

    init(configuration: RedisConfiguration, logger: Logger, availability: RedisAvailability) {
        self.configuration = configuration
        self.logger = logger
        self.availability = availability
    }

    /// Requests queued or running; the pool sends new work to the least loaded connection.
    var currentLoad: Int {
        condition.lock()
        defer { condition.unlock() }
        return load
    }

    func send(_ command: [String]) async throws -> RedisReply {
        try await withUnsafeThrowingContinuation { enqueue(Request(payload: .command(command, $0))) }
    }

    func send(bytes command: [[UInt8]]) async throws -> RedisReply {
        try await withUnsafeThrowingContinuation { enqueue(Request(payload: .binaryCommand(command, $0))) }
    }

    func send(_ command: [String], timeout: Duration) async throws -> RedisReply {
        try await withUnsafeThrowingContinuation {
            enqueue(Request(payload: .command(command, $0), timeout: timeout))
        }
    }

    func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        try await withUnsafeThrowingContinuation { enqueue(Request(payload: .pipeline(commands, $0))) }
    }

    /// Fails queued requests with `.closed`, lets the running batch finish, and returns once the thread
    /// has freed its connection.
    func close() async {
        await withUnsafeContinuation { waiter in
            condition.lock()
            isClosed = true
            guard isRunning else {
                condition.unlock()
                waiter.resume()
                return
            }
            closeWaiters.append(waiter)
            condition.signal()
            condition.unlock()
        }
    }

    /// Tells the thread to stop without waiting (for `deinit` of the client).
    func closeSoon() {
        condition.lock()
        isClosed = true
        condition.signal()
        condition.unlock()
    }

    private func enqueue(_ request: Request) {
        if request.failsFast && availability.isKnownDown {
            request.fail(availability.unavailable)
            return
        }
        condition.lock()
        guard !isClosed else {
            condition.unlock()
            request.fail(.clientClosed)
            return
        }
        if request.failsFast && isWaitingForReconnect {
            condition.unlock()
            request.fail(availability.unavailable)
            return
        }
        queue.append(request)
        load += 1
        wakeThread()
        condition.unlock()
    }

    /// Called with the lock held. Jobs still run after `close`: the thread starts again for them.
    private func wakeThread() {
        if !isRunning {
            isRunning = true
            startThread()
        } else {
            condition.signal()
        }
    }

    private func startThread() {
        let thread = Thread { [self] in
            Self.ignoreBrokenPipeOnThisThread()
            run()
        }
        thread.name = "redis-connection"
        thread.start()
    }

    // MARK: The connection thread

    private func run() {
        while nextWork() {
            for job in takenJobs { runJob(job) }
            takenJobs.removeAll(keepingCapacity: true)
            guard !takenRequests.isEmpty else { continue }
            execute(takenRequests)
            takenRequests.removeAll(keepingCapacity: true)
        }
        context = nil
        condition.lock()
        isRunning = false
        let waiters = closeWaiters
        closeWaiters = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Blocks until requests or jobs are queued and moves them to `takenJobs` and `takenRequests`
    /// (swapping buffers, so neither side allocates per round trip); false once the connection is
    /// closed and no job is left.
    private func nextWork() -> Bool {
        awaitFollowUp()
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && jobs.isEmpty && !isClosed { condition.wait() }
        swap(&jobs, &takenJobs)
        swap(&queue, &takenRequests)
        guard isClosed else { return true }
        load -= takenRequests.count
        for request in takenRequests { request.fail(.clientClosed) }
        takenRequests.removeAll()
        return !takenJobs.isEmpty
    }

    /// A caller awaiting replies in a loop sends its next command a few microseconds after its reply;
    /// polling briefly for it saves the thread a sleep and a wake-up on every round trip.
    private func awaitFollowUp() {
        let until = ContinuousClock.now + Self.followUpWindow
        repeat {
            condition.lock()
            let hasWork = !queue.isEmpty || !jobs.isEmpty || isClosed
            condition.unlock()
            if hasWork { return }
            sched_yield()
        } while ContinuousClock.now < until
    }

    private func execute(_ batch: [Request]) {
        var pending = batch
        guard let context = connectedContext(for: &pending) else { return }
        var next = 0
        do {
            for request in pending { request.append(to: context) }
            try context.flush()
            let sent = ContinuousClock.now
            // Blocking commands (their own timeout) wait long by design: no polling, and no measuring.
            let isBlocking = pending.contains { $0.timeout != nil }
            let spin = isBlocking || replyTime > Self.spinLimit
                ? Duration.zero : min(Self.spinLimit, replyTime * 2 + Self.spinMargin)
            while next < pending.count {
                try pending[next].complete(from: context, spin: spin) { settled(1) }
                if next == 0 && !isBlocking { replyTime = replyTime * 0.875 + (ContinuousClock.now - sent) * 0.125 }
                next += 1
            }
            lastUse = .now
        } catch {
            // The context is unusable after any I/O or protocol error: fail what is left, reconnect later.
            self.context = nil
            nextConnectAttempt = .now
            logger.warning("redis connection failed", metadata: [
                RedisLogKey.endpoint: "\(configuration.endpoint)", RedisLogKey.error: "\(error.message)",
            ])
            settled(pending.count - next)
            for request in pending[next...] { request.fail(error) }
        }
    }

    /// Takes requests out of `load` just before their callers are resumed (the thread may lose the CPU to a
    /// caller it resumes): a caller that sends again at once then finds this connection idle and stays on it.
    private func settled(_ count: Int) {
        condition.lock()
        load -= count
        condition.unlock()
    }

    /// Returns a usable context, connecting (with backoff) when there is none. Requests whose deadline
    /// passes while the server is unreachable are failed and removed; nil when none are left.
    private func connectedContext(for pending: inout [Request]) -> HiredisContext? {
        var waited = false
        defer {
            if waited { setWaitingForReconnect(false) }
        }
        while true {
            if let context {
                if ContinuousClock.now - lastUse < Self.staleCheckAfter || !context.isStale {
                    if let timeout = pending.first?.timeout {
                        do { try context.setTimeout(timeout) } catch {
                            self.context = nil
                            continue
                        }
                    }
                    return context
                }
                self.context = nil
            }
            let now = ContinuousClock.now
            if now >= nextConnectAttempt {
                do {
                    // A connect made for a request with its own, shorter timeout (a readiness PING) waits no longer.
                    var settings = configuration
                    if let timeout = pending.first?.timeout, timeout < settings.connectTimeout { settings.connectTimeout = timeout }
                    context = try HiredisContext(configuration: settings)
                    availability.connected()
                    if backoff != .zero {
                        logger.info("redis reconnected", metadata: [RedisLogKey.endpoint: "\(configuration.endpoint)"])
                    }
                    backoff = .zero
                    lastUse = .now
                    continue
                } catch {
                    lastConnectError = error
                    backoff = backoff == .zero ? Self.firstBackoff : min(backoff * 2, Self.maximumBackoff)
                    nextConnectAttempt = .now + backoff
                    availability.connectFailed(error, retryAt: nextConnectAttempt)
                    logger.warning("redis connect failed", metadata: [
                        RedisLogKey.endpoint: "\(configuration.endpoint)", RedisLogKey.error: "\(error.message)",
                        RedisLogKey.retryInMilliseconds: "\(Int(backoff / .milliseconds(1)))",
                    ])
                }
            }
            let checked = ContinuousClock.now
            pending = pending.compactMap { request in
                var request = request
                // Not connected, and the attempt just made failed or the next is not due: no waiting.
                if request.failsFast {
                    settled(1)
                    request.fail(lastConnectError)
                    return nil
                }
                let deadline = request.deadline ?? checked + (request.timeout ?? configuration.commandTimeout)
                guard checked < deadline else {
                    settled(1)
                    request.fail(lastConnectError)
                    return nil
                }
                request.deadline = deadline
                return request
            }
            guard let earliest = pending.lazy.compactMap(\.deadline).min() else { return nil }
            if !waited {
                waited = true
                setWaitingForReconnect(true)
            }
            if !waitUntil(min(earliest, nextConnectAttempt)) {
                settled(pending.count)
                for request in pending { request.fail(.clientClosed) }
                return nil
            }
        }
    }

    private func setWaitingForReconnect(_ waiting: Bool) {
        condition.lock()
        isWaitingForReconnect = waiting
        condition.unlock()
    }

    /// Sleeps until `instant` unless the connection is closed first; false when closed.
    private func waitUntil(_ instant: ContinuousClock.Instant) -> Bool {
        let date = Date(timeIntervalSinceNow: max(0, ContinuousClock.now.duration(to: instant) / .seconds(1)))
        condition.lock()
        defer { condition.unlock() }
        while !isClosed && Date() < date { _ = condition.wait(until: date) }
        return !isClosed
    }

    /// hiredis writes with `write(2)`; a server that went away must give EPIPE, not kill the process.
    /// SIGPIPE is blocked on this thread only, so the rest of the process is untouched.
    private static func ignoreBrokenPipeOnThisThread() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}

extension RedisConnection.Request {
    fileprivate func append(to context: HiredisContext) {
        switch payload {
        case .command(let command, _): context.append(command)
        case .binaryCommand(let command, _): context.append(command)
        case .pipeline(let commands, _): for command in commands { context.append(command) }
        }
    }

    /// Reads this request's replies, calls `settled`, and resumes its caller.
    fileprivate func complete(
        from context: HiredisContext, spin: Duration, settled: () -> Void
    ) throws(RedisError) {
        switch payload {
        case .command(_, let continuation), .binaryCommand(_, let continuation):
            let reply = try context.readReply(spin: spin)
            settled()
            switch reply {
            case .error(let message): continuation.resume(throwing: RedisError(code: .server, message: message))
            case let reply: continuation.resume(returning: reply)
            }
        case .pipeline(let commands, let continuation):
            var replies: [RedisReply] = []
            replies.reserveCapacity(commands.count)
            for _ in commands { replies.append(try context.readReply(spin: spin)) }
            settled()
            continuation.resume(returning: replies)
        }
    }

    fileprivate func fail(_ error: RedisError) {
        switch payload {
        case .command(_, let continuation), .binaryCommand(_, let continuation): continuation.resume(throwing: error)
        case .pipeline(_, let continuation): continuation.resume(throwing: error)
        }
    }
}

/// Tasks that await many commands in sequence can run on a connection's own thread
/// (`withTaskExecutorPreference`): a reply then resumes its caller on the thread that read it, and the
/// caller's next command is picked up without waking another thread.
@available(macOS 15.0, *)
extension RedisConnection: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        wakeThread()
        condition.unlock()
    }

    fileprivate func runJob(_ job: UnownedJob) {
        job.runSynchronously(on: asUnownedTaskExecutor())
    }
}
