import BackfillRedis
@testable import BackfillServer
import BackfillTestSupport
import Foundation
import Logging
import Testing

/// The private redis-server of `serve` and `demo`: it stops on SIGTERM, a server left by a crashed
/// service is stopped by the next start, and two services never share its directory.
@Suite("Private redis-server")
struct ManagedRedisServerTests {
    @Test("stop ends the server with SIGTERM well within a second: it shuts down cleanly and is reaped")
    func stopsOnSigterm() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await ManagedRedisServer.start(in: directory)
        let pids = Self.liveRedisServers(in: directory)
        #expect(pids.count == 1)
        let pid = try #require(pids.first)
        #expect(try await Self.ping(server.url))

        let clock = ContinuousClock()
        let started = clock.now
        let exit = await server.stop()
        let elapsed = clock.now - started
        #expect(elapsed < .milliseconds(900), "stop took \(elapsed)")
        #expect(exit == .exited(0), "redis-server exited by \(exit), not by itself after SIGTERM")
        // Gone and reaped: no process, not even a zombie.
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"))
        let log = try String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)
        #expect(log.contains("Received SIGTERM"))
        #expect(log.contains("ready to exit"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("redis-server.pid").path))
    }

    @Test("a server left by a crashed service (handle dropped without stop) is stopped by the next start")
    func replacesServerLeftByCrash() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let leftover = try await Self.startAndDrop(in: directory)
        #expect(Self.liveRedisServers(in: directory) == [leftover])

        let server = try await ManagedRedisServer.start(in: directory)
        #expect(Self.liveRedisServers(in: directory) == [server.pid])
        #expect(server.pid != leftover)
        // It was asked to stop (SIGTERM), flushed and exited by itself; this test process is its parent.
        #expect(Self.reap(leftover) == .exited(0))
        #expect(try await Self.ping(server.url))
        await server.stop()
        #expect(Self.liveRedisServers(in: directory).isEmpty)
    }

    @Test("a redis-server running in the directory without a pid file is stopped by the next start")
    func replacesUnrecordedServer() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let stray = try await Self.spawnRedisServer(in: directory)
        #expect(Self.liveRedisServers(in: directory) == [stray])

        let server = try await ManagedRedisServer.start(in: directory)
        #expect(Self.liveRedisServers(in: directory) == [server.pid])
        #expect(Self.reap(stray) == .exited(0))
        await server.stop()
    }

    @Test("a second start on a directory in use is refused with a clear message, and the first server runs on")
    func secondStartRefused() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await ManagedRedisServer.start(in: directory)
        let error = await #expect(throws: ConfigurationError.self) { try await ManagedRedisServer.start(in: directory) }
        #expect(error?.message.contains("another backfill service (process \(getpid()))") == true, "\(String(describing: error))")
        #expect(Self.liveRedisServers(in: directory) == [first.pid])
        #expect(try await Self.ping(first.url))

        await first.stop()
        let again = try await ManagedRedisServer.start(in: directory)
        #expect(Self.liveRedisServers(in: directory) == [again.pid])
        await again.stop()
    }

    @Test("a process that merely works in the directory is never taken for a leftover server")
    func otherProcessesAreLeftAlone() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let real = directory.resolvingSymlinksInPath().path
        // This test process, and a sleeping shell started in the directory.
        #expect(!ManagedRedisServer.isLiveRedis(getpid(), workingIn: real))
        var child = pid_t()
        let words: [String] = ["/bin/sh", "-c", "cd '\(real)' && exec sleep 30"]
        let argv = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&child, "/bin/sh", nil, nil, argv, environ) == 0)
        defer {
            kill(child, SIGKILL)
            _ = Self.reap(child, wait: true)
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/cwd")) != real, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(!ManagedRedisServer.isLiveRedis(child, workingIn: real))
        let server = try await ManagedRedisServer.start(in: directory)
        #expect(kill(child, 0) == 0, "the shell in the directory was signalled")
        await server.stop()
    }

    // MARK: Helpers

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backfill-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Starts a server and lets its handle go without `stop()`, as a crash of the service would; its pid.
    static func startAndDrop(in directory: URL) async throws -> pid_t {
        let server = try await ManagedRedisServer.start(in: directory)
        return server.pid
    }

    /// Live (not zombie) redis-server processes whose working directory is `directory` (redis-server
    /// changes into its `--dir`). Written apart from the code under test, from /proc.
    static func liveRedisServers(in directory: URL) -> [pid_t] {
        let real = directory.resolvingSymlinksInPath().path
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            guard let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd"), cwd == real,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains("redis-server"),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            else { return false }
            return !status.contains("State:\tZ")
        }.sorted()
    }

    /// Reaps a child of this test process: how it exited, nil when it has not (or is not our child).
    static func reap(_ pid: pid_t, wait: Bool = false) -> ManagedRedisServer.Exit? {
        var status: Int32 = 0
        guard waitpid(pid, &status, wait ? 0 : WNOHANG) == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// A redis-server started by hand in `directory`, as an older service or an operator would leave one:
    /// no pid file, a clean signal state. Returns once it answers PING.
    static func spawnRedisServer(in directory: URL) async throws -> pid_t {
        let port = try PrivateRedisServer.freePort()
        let executable = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_SERVER"] ?? "/usr/bin/redis-server"
        let arguments = [executable, "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                         "--appendonly", "yes", "--logfile", directory.appendingPathComponent("stray.log").path]
        let child = try PrivateRedisServer.spawn(arguments)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if (try? await ping("redis://127.0.0.1:\(port)")) == true { return child }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(child, SIGKILL)
        throw TestSetupError("the hand-started redis-server did not answer PING")
    }

    static func ping(_ url: String) async throws -> Bool {
        let client = RedisClient(
            configuration: try RedisConfiguration(url: url, poolSize: 1, commandTimeout: .milliseconds(500)),
            logger: Logger(label: "test.managed-redis")
        )
        let reply = try? await client.send(["PING"])
        await client.close()
        return reply == .status("PONG")
    }
}
