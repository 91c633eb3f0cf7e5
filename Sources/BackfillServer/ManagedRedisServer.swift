import Foundation

/// A private redis-server for `serve` and `demo` when no `BACKFILL_REDIS_URL` is given: its own
/// directory under the data directory, a free loopback port, no persistence beyond that directory.
/// Stopped with SIGTERM by `stop()` (and SIGKILL if it does not go within five seconds).
public final class ManagedRedisServer: @unchecked Sendable {  // the Process is only signalled and polled
    public let port: Int
    public var url: String { "redis://127.0.0.1:\(port)" }
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// Starts redis-server (found on PATH) in `directory` and waits until it accepts connections.
    public static func start(in directory: URL) async throws -> ManagedRedisServer {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard let binary = findOnPath("redis-server") else {
            throw ConfigurationError("redis-server is not installed (or not on PATH); install it or set BACKFILL_REDIS_URL")
        }
        for _ in 0..<20 {
            let port = Int.random(in: 20_000..<60_000)
            let log = directory.appendingPathComponent("redis.log")
            try? FileManager.default.removeItem(at: log)
            let process = Process()
            process.executableURL = binary
            process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
                                 "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--daemonize", "no", "--logfile", log.path]
            try process.run()
            // Ready when it logs so; gone at once when the port was taken (then try another).
            for _ in 0..<250 {
                if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("Ready to accept connections") {
                    return ManagedRedisServer(port: port, process: process)
                }
                if !process.isRunning { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        throw ConfigurationError("could not start a private redis-server in \(directory.path); see redis.log there")
    }

    /// Stops the server and waits until it has gone.
    public func stop() async {
        process.terminate()
        for _ in 0..<250 {
            if !process.isRunning { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(process.processIdentifier, SIGKILL)
    }

    private static func findOnPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
