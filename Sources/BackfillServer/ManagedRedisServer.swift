import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private redis-server for `serve` and `demo` when no `BACKFILL_REDIS_URL` is given: its own
/// directory under the data directory (append-only file there), a free loopback port.
///
/// - It is spawned with an empty signal mask and every signal at its default disposition: the service's
///   threads block signals and swift-service-lifecycle ignores SIGTERM and SIGINT, and a child inheriting
///   either would ignore the SIGTERM that stops it. It runs in its own process group, so a Ctrl-C on the
///   terminal reaches the service only, which keeps Redis up for its graceful shutdown and stops it last.
/// - `stop()` sends SIGTERM (Redis flushes its append-only file and exits within milliseconds), waits for
///   the exit and reaps the process; SIGKILL only if it has not gone after `Policy.stopGrace`.
/// - The service holds `flock` on `backfill.lock` in the directory for as long as it runs (the kernel drops
///   it when the process dies, however it dies): a second service on the same directory is refused.
///   `redis-server.pid` names the running server. A start that finds a redis-server left in the directory
///   by a service that crashed (named by the pid file, or found in /proc: a redis-server whose working
///   directory is this one) stops it with SIGTERM and waits before starting its own, so two servers never
///   share an append-only file.
/// - No parent-death signal: `PR_SET_PDEATHSIG` can only be set between fork and exec (posix_spawn has no
///   hook for it; a `setpriv --pdeathsig` wrapper would), and it fires when the *thread* that spawned the
///   child exits, not the process. The spawning thread is a pooled Dispatch thread that exits when idle,
///   which would stop Redis in the middle of a run. A server left by a crash keeps its data (it goes on
///   flushing), takes no work, and is stopped by the next start; the lock keeps that safe.
///
/// Dropping the handle without `stop()` releases the lock and leaves the server running, as a crash would.
public actor ManagedRedisServer {
    /// The private server's policy numbers, in one place.
    enum Policy {
        /// Random loopback ports tried before giving up (one can be taken; redis-server then exits at once).
        static let portAttempts = 20
        /// How long redis-server gets to log that it accepts connections (loading a large append-only file
        /// counts here).
        static let startTimeout = Duration.seconds(30)
        /// How long a SIGTERMed redis-server gets to flush its append-only file and exit before SIGKILL. It
        /// takes milliseconds; the bound is for a stalled disk, and stays well inside systemd's stop timeout.
        static let stopGrace = Duration.seconds(5)
        /// How long to wait for the exit after SIGKILL before reporting the process as stuck.
        static let killGrace = Duration.seconds(1)
        /// How often the exit, or the readiness line in the log, is checked.
        static let pollInterval = Duration.milliseconds(5)
    }

    static let lockFileName = "backfill.lock"
    static let pidFileName = "redis-server.pid"
    static let logFileName = "redis.log"

    public nonisolated let port: Int
    /// The redis-server's process id.
    public nonisolated let pid: pid_t
    public nonisolated let directory: URL
    public nonisolated var url: String { "redis://127.0.0.1:\(port)" }

    /// Held until `stop()`; released when the handle goes away.
    private var lock: DirectoryLock?
    private var stopped = false

    private init(port: Int, pid: pid_t, directory: URL, lock: DirectoryLock) {
        self.port = port
        self.pid = pid
        self.directory = directory
        self.lock = lock
    }

    /// Starts redis-server (found on PATH) in `directory` and waits until it accepts connections. Throws
    /// `ConfigurationError` when another service holds the directory, or when no server could be started.
    public static func start(in directory: URL) async throws -> ManagedRedisServer {
        guard let binary = findOnPath("redis-server") else {
            throw ConfigurationError("redis-server is not installed (or not on PATH); install it or set BACKFILL_REDIS_URL")
        }
        let lock = try await offPoolThrowing { try DirectoryLock.acquire(in: directory) }
        let realDirectory = await offPool { directory.resolvingSymlinksInPath().path }
        for leftover in await offPool({ findLeftovers(in: directory, realPath: realDirectory) }) {
            try await stopLeftover(leftover, realDirectory: realDirectory)
        }
        let log = directory.appendingPathComponent(logFileName)
        for _ in 0..<Policy.portAttempts {
            let port = Int.random(in: 20_000..<60_000)
            let arguments = [
                "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
                "--daemonize", "no", "--logfile", log.path,
            ]
            let (pid, logOffset) = try await offPoolThrowing {
                let offset = (try? FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int) ?? 0
                let pid = try spawn(binary.path, arguments: arguments)
                try? Data("\(pid)\n".utf8).write(to: directory.appendingPathComponent(pidFileName))
                return (pid, offset)
            }
            switch try await waitUntilReady(pid, log: log, from: logOffset) {
            case .ready:
                return ManagedRedisServer(port: port, pid: pid, directory: directory, lock: lock)
            case .exited:
                continue  // most likely the port was taken: try another
            case .timedOut:
                _ = await terminate(pid)
                await offPool { try? FileManager.default.removeItem(at: directory.appendingPathComponent(pidFileName)) }
                throw ConfigurationError(
                    "the private redis-server in \(directory.path) was not ready within \(Policy.startTimeout); see \(logFileName) there")
            }
        }
        await offPool { try? FileManager.default.removeItem(at: directory.appendingPathComponent(pidFileName)) }
        throw ConfigurationError("could not start a private redis-server in \(directory.path); see \(logFileName) there")
    }

    /// How the server went.
    public enum Exit: Sendable, Equatable {
        /// It exited by itself with this status (0 after a SIGTERM: it flushed and shut down).
        case exited(Int32)
        /// A signal ended it (SIGKILL after `Policy.stopGrace`).
        case signalled(Int32)
        /// Already stopped, or not observed.
        case unknown
    }

    /// Stops the server with SIGTERM, waits until it has exited and reaps it (SIGKILL only past
    /// `Policy.stopGrace`), then removes the pid file and releases the directory's lock.
    @discardableResult
    public func stop() async -> Exit {
        guard !stopped else { return .unknown }
        stopped = true
        let exit = await Self.terminate(pid)
        await Self.offPool { [directory] in
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.pidFileName))
        }
        lock = nil
        return exit
    }

    // MARK: Our own child

    private enum Readiness { case ready, exited, timedOut }

    /// Until redis-server logs (past `offset`) that it accepts connections, exits, or the start timeout passes.
    private static func waitUntilReady(_ pid: pid_t, log: URL, from offset: Int) async throws -> Readiness {
        let deadline = ContinuousClock.now + Policy.startTimeout
        while ContinuousClock.now < deadline {
            let ready = await offPool {
                guard let data = try? Data(contentsOf: log), data.count > offset else { return false }
                return String(decoding: data.dropFirst(offset), as: UTF8.self).contains("Ready to accept connections")
            }
            if ready { return .ready }
            if reap(pid) != nil { return .exited }
            try await Task.sleep(for: Policy.pollInterval)
        }
        return .timedOut
    }

    /// SIGTERM, then waits for the exit and reaps; SIGKILL past the grace period.
    private static func terminate(_ pid: pid_t) async -> Exit {
        if let exit = reap(pid) { return exit }  // it had already gone
        kill(pid, SIGTERM)
        if let exit = await waitForExit(pid, within: Policy.stopGrace) { return exit }
        kill(pid, SIGKILL)
        return await waitForExit(pid, within: Policy.killGrace) ?? .unknown
    }

    private static func waitForExit(_ pid: pid_t, within bound: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + bound
        while true {
            if let exit = reap(pid) { return exit }
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: Policy.pollInterval)
        }
    }

    /// `waitpid` without blocking: the exit once the child has exited (and is reaped), else nil.
    private static func reap(_ pid: pid_t) -> Exit? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        guard result == pid else { return .unknown }  // not our child (ECHILD): nothing to wait for
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// posix_spawn with a clean signal state, stdin and stdout on /dev/null, its own process group, and no
    /// inherited descriptor beyond the standard three.
    private static func spawn(_ binary: String, arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)  // glibc leaves out its internal signals and skips SIGKILL and SIGSTOP
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        closeInheritedDescriptors(&actions)

        let argv = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, binary, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw ConfigurationError("cannot start \(binary): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Descriptors the service opened without close-on-exec (sockets, files) must not live on in a server
    /// that can outlive it. glibc 2.34+ has `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc
    /// module does not declare: it is looked up, and skipped on an older glibc.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }

    // MARK: A server left by a crashed service

    /// Live redis-servers working in the directory: the one the pid file names, and any other in /proc
    /// (redis-server changes into its `--dir`, so its working directory names it).
    private static func findLeftovers(in directory: URL, realPath: String) -> [pid_t] {
        var candidates = Set<pid_t>()
        let pidFile = directory.appendingPathComponent(pidFileName)
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            candidates.insert(pid)
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            if let pid = pid_t(entry) { candidates.insert(pid) }
        }
        return candidates.filter { isLiveRedis($0, workingIn: realPath) }.sorted()
    }

    /// A running (not zombie) redis-server whose working directory is `directory`. Never matches another
    /// program, such as a shell that happens to be in the directory.
    static func isLiveRedis(_ pid: pid_t, workingIn directory: String) -> Bool {
        guard pid > 0, pid != getpid() else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              stat[stat.index(after: close)...].dropFirst().first != "Z"
        else { return false }
        guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == directory else { return false }
        // redis-server rewrites its title to "/usr/bin/redis-server 127.0.0.1:PORT"; the first word names it.
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let first = String(decoding: cmdline.prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
        return URL(fileURLWithPath: first).lastPathComponent == "redis-server"
    }

    /// SIGTERM to a leftover (not our child: its exit is seen in /proc), SIGKILL past the grace period.
    private static func stopLeftover(_ pid: pid_t, realDirectory: String) async throws {
        kill(pid, SIGTERM)
        for (bound, signal) in [(Policy.stopGrace, SIGKILL), (Policy.killGrace, 0)] {
            let deadline = ContinuousClock.now + bound
            while ContinuousClock.now < deadline {
                if await !offPool({ isLiveRedis(pid, workingIn: realDirectory) }) { return }
                try await Task.sleep(for: Policy.pollInterval)
            }
            if signal != 0 { kill(pid, signal) }
        }
        throw ConfigurationError("a redis-server left in \(realDirectory) (process \(pid)) does not stop; stop it, then start again")
    }

    // MARK: Helpers

    /// File and process work (open, flock, /proc, posix_spawn) runs on a Dispatch queue, off Swift's pool.
    private static func offPoolThrowing<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    @discardableResult
    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }

    private static func findOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}

/// `flock` on the directory's lock file, held while this value lives (the kernel releases it with the
/// descriptor, also when the process dies). The file names the holder's pid, for the refusal's message.
final class DirectoryLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    static func acquire(in directory: URL) throws -> DirectoryLock {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(ManagedRedisServer.lockFileName).path
        // Close-on-exec: a redis-server holding it would keep the directory locked after the service died.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ConfigurationError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw ConfigurationError("cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw ConfigurationError(
                "another backfill service\(holder.isEmpty ? "" : " (process \(holder))") is running the private redis-server in "
                    + "\(directory.path); stop it first, or give this one another --data-dir or a BACKFILL_REDIS_URL"
            )
        }
        let pid = "\(getpid())\n"
        ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return DirectoryLock(descriptor: descriptor)
    }
}
