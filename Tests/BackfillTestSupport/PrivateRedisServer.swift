import BackfillRedis
import Foundation
import Logging

/// A redis-server of the test's own (`BACKFILL_TEST_REDIS_SERVER`), on a free loopback port, that the
/// test can stop and start again on the same port.
public final class PrivateRedisServer: @unchecked Sendable {  // touched only by the owning test
    public let port: Int
    private let executable: String
    private let directory: URL
    private var pid: pid_t?

    public var url: String { "redis://127.0.0.1:\(port)" }

    public init() throws {
        guard let executable = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_SERVER"] else {
            throw TestSetupError(
                "BACKFILL_TEST_REDIS_SERVER is not set: run the tests with ops/test, or set it to redis-server's path")
        }
        self.executable = executable
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
    }

    deinit {
        if let pid { kill(pid, SIGKILL) }  // a test that failed early; the test process reaps it on exit
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the server and returns once it answers PING (or throws after 5 seconds).
    public func start() async throws {
        let arguments = [
            executable, "--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
            "--appendonly", "no", "--logfile", directory.appendingPathComponent("redis.log").path,
        ]
        pid = try Self.spawn(arguments)
        let probe = RedisClient(
            configuration: try RedisConfiguration(url: url, poolSize: 1, commandTimeout: .milliseconds(200)),
            logger: Logger(label: "test.private-redis"))
        var answered = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !answered && ContinuousClock.now < deadline {
            answered = (try? await probe.send(["PING"])) == .status("PONG")
            if !answered { try await Task.sleep(for: .milliseconds(20)) }
        }
        await probe.close()
        guard answered else { throw TestSetupError("the private redis-server did not answer PING within 5 seconds") }
    }

    /// Kills the server (as a crash would) and waits until it has exited.
    public func stop() async throws {
        guard let pid else { return }
        kill(pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(5)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard ContinuousClock.now < deadline else { throw TestSetupError("redis-server did not exit") }
            try await Task.sleep(for: .milliseconds(5))
        }
        self.pid = nil
    }

    /// Starts `arguments[0]` with `arguments` and an empty signal mask (the test's threads block signals,
    /// and a child inheriting that mask would ignore the kill); returns its pid.
    public static func spawn(_ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child = pid_t()
        guard posix_spawn(&child, arguments[0], nil, &attributes, argv, environ) == 0 else {
            throw TestSetupError("cannot start \(arguments[0])")
        }
        return child
    }

    /// Asks the kernel for a free port by binding port 0 (also for servers whose URL must be known
    /// before they listen, such as an OAuth callback).
    public static func freePort() throws -> Int {
        let (socket, port) = try SilentListener.loopbackSocket(listening: false)
        close(socket)
        return port
    }
}

/// A test could not be set up (a missing environment variable, a server that did not start).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
