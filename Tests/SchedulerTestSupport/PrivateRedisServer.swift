import Foundation

/// A redis-server of a test's own, on a free loopback port, for tests that restart it or need its
/// command statistics to themselves. The binary comes from `BACKFILL_TEST_REDIS_SERVER`.
public final class PrivateRedisServer: @unchecked Sendable {  // mutable state touched only by the owning test
    public let port: Int
    public var url: String { "redis://127.0.0.1:\(port)" }
    private let directory: URL
    private var process: Process?

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<20 {
            let candidate = Int.random(in: 20_000..<60_000)
            do {
                process = try Self.launch(port: candidate, directory: directory)
                port = candidate
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? POSIXError(.EADDRINUSE)
    }

    /// Starts the server again on the same port (after `kill()`).
    public func start() throws {
        process = try Self.launch(port: port, directory: directory)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func launch(port: Int, directory: URL) throws -> Process {
        guard let binary = ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_SERVER"] else {
            throw POSIXError(.ENOENT)
        }
        let log = directory.appendingPathComponent("redis-\(port).log")
        try? FileManager.default.removeItem(at: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory.path, "--logfile", log.path]
        try process.run()
        // Ready when it logs that it accepts connections; gone at once if the port was taken.
        for _ in 0..<250 {
            if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("Ready to accept connections") {
                return process
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        throw POSIXError(.EADDRINUSE)
    }
}
