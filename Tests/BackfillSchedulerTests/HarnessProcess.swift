import BackfillTestSupport
import Foundation

/// One scheduler instance running as its own process (the `SchedulerHarness` executable built beside
/// the tests), so tests can SIGKILL or SIGTERM it like a real deployment.
final class HarnessProcess: @unchecked Sendable {  // the Process is only touched by the owning test
    let name: String
    private let process = Process()

    init(name: String, redisURL: String, prefix: String, settings: [String: String] = [:]) throws {
        self.name = name
        process.executableURL = try Self.binary()
        var environment = ProcessInfo.processInfo.environment
        environment["HARNESS_REDIS_URL"] = redisURL
        environment["HARNESS_PREFIX"] = prefix
        environment["HARNESS_INSTANCE"] = name
        for (key, value) in settings { environment[key] = value }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // It prints "ready NAME" once its services are built.
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready") else {
            throw TestSetupError("harness \(name) did not start")
        }
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Asks for a graceful shutdown and returns the exit status.
    func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill() }
    }

    private static func binary() throws -> URL {
        // The test bundle and the harness are built into the same directory.
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("SchedulerHarness")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestSetupError("SchedulerHarness not found beside \(bundle.path): build with `swift build --build-tests`")
    }
}
