import BackfillCore
@testable import BackfillServer
import BackfillTestSupport
import Foundation
import Testing

/// The `backfill` binary (built beside the tests) against a live server.
@Suite("backfill CLI")
struct CLITests {
    struct Run {
        var status: Int32
        var output: String
        var error: String
    }

    /// Runs the binary with `arguments`, `BACKFILL_URL` pointing at `url`, and waits for it to exit.
    static func run(_ arguments: [String], url: String?, token: String? = nil) async throws -> Run {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BACKFILL_URL"] = url
        environment["BACKFILL_API_TOKEN"] = token
        environment["BACKFILL_SECRET_KEY"] = nil
        environment["BACKFILL_LISTEN"] = nil
        process.environment = environment
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return Run(
            status: status,
            output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            error: String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }

    private static func binary() throws -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("backfill")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestSetupError("the backfill binary is not beside \(bundle.path): build with `swift build --build-tests`")
    }

    @Test("status prints a table row per connection, and watch follows a backfill to completion")
    func statusAndWatch() async throws {
        var options = ServerHarness.Options()
        options.workers = true
        options.provider = TestMailProvider(messageCount: 40, pageSize: 10, pageDelay: .milliseconds(150))
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("graph", "watch@acme.com")
            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "90d"}"#)
            let watch = try await Self.run(["watch", connection.id, "--interval", "0.05"], url: server.baseURL)
            #expect(watch.status == 0, "\(watch.error)")
            let lines = watch.output.split(separator: "\n").map(String.init)
            #expect(lines.last == "Synced last 90 days · 40 messages")
            #expect(lines.count >= 2)  // it showed progress before the end

            let status = try await Self.run(["status"], url: server.baseURL)
            #expect(status.status == 0)
            let rows = status.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(rows.first == ["ID", "PROVIDER", "ADDRESS", "HEALTH", "STATE", "PULLED", "ETA"])
            #expect(rows.dropFirst().first == [connection.id, "graph", "watch@acme.com", "healthy", "completed", "40/~40", "-"])

            let one = try await Self.run(["status", connection.id, "--url", server.baseURL], url: nil)
            #expect(one.status == 0 && one.output.hasSuffix("\(connection.id): Synced last 90 days · 40 messages\n"), "\(one.output)")
        }
    }

    @Test("reset starts over with a new range; pause and resume act; refusals exit 1, usage 2, unreachable 3")
    func resetAndExitCodes() async throws {
        var options = ServerHarness.Options()
        options.token = "cli-token"
        try await ServerHarness.with(options) { server in
            let connection = try await server.connect("gmail", "reset@gmail.com")
            _ = try await server.request("POST", "/v1/connections/\(connection.id)/backfill", json: #"{"range": "30d"}"#)

            let reset = try await Self.run(["reset", connection.id, "--range", "12m"], url: server.baseURL, token: "cli-token")
            #expect(reset.status == 0, "\(reset.error)")
            #expect(try await server.connection(connection.id).backfill?.range == .last12Months)

            let pause = try await Self.run(["pause", connection.id], url: server.baseURL, token: "cli-token")
            #expect(pause.status == 0 && pause.output.contains("paused"))
            #expect(try await server.connection(connection.id).backfill?.state == .paused)
            #expect(try await Self.run(["resume", connection.id], url: server.baseURL, token: "cli-token").status == 0)
            #expect(try await Self.run(["cancel", connection.id], url: server.baseURL, token: "cli-token").status == 0)

            let refused = try await Self.run(["resume", connection.id], url: server.baseURL, token: "cli-token")
            #expect(refused.status == 1)
            #expect(refused.error.contains("cannot resume a backfill that is cancelled"))
            let unknown = try await Self.run(["status", "c_nope"], url: server.baseURL, token: "cli-token")
            #expect(unknown.status == 1 && unknown.error.contains("c_nope"))
            let noToken = try await Self.run(["status"], url: server.baseURL)
            #expect(noToken.status == 1 && noToken.error.contains("BACKFILL_API_TOKEN"))

            let badRange = try await Self.run(["reset", connection.id, "--range", "7d"], url: server.baseURL, token: "cli-token")
            #expect(badRange.status == 2 && badRange.error.contains("7d"))
            #expect(try await Self.run(["pause"], url: server.baseURL).status == 2)
        }
        let unreachable = try await Self.run(["status"], url: "http://127.0.0.1:1")
        #expect(unreachable.status == 3)
        #expect(unreachable.error.contains("cannot reach"))
    }

    @Test("serve refuses a non-loopback listen address without a token, and a missing secret key, before starting")
    func serveValidation() async throws {
        let open = try await Self.run(["serve", "--listen", "0.0.0.0:0", "--secret-key", "0123456789abcdef0123"], url: nil)
        #expect(open.status == 2)
        #expect(open.error.contains("without an API token"))
        let noKey = try await Self.run(["serve", "--listen", "127.0.0.1:0"], url: nil)
        #expect(noKey.status == 2 && noKey.error.contains("BACKFILL_SECRET_KEY"))
    }

    @Test("serve refuses a rediss:// Redis URL at startup and names the TLS sidecar")
    func serveRefusesTLSRedisURL() async throws {
        let refused = try await Self.run([
            "serve", "--listen", "127.0.0.1:0", "--secret-key", "0123456789abcdef0123", "--redis-url", "rediss://:pw@redis.example.com:6380",
        ], url: nil)
        #expect(refused.status == 2)
        #expect(refused.error.contains("BACKFILL_REDIS_URL"), "\(refused.error)")
        #expect(refused.error.contains("ops/stunnel/backfill-redis.conf"), "\(refused.error)")
        #expect(!refused.error.contains(":pw@"))
    }

    @Test("serve refuses a store URL it cannot use (exit 2), stops when the PostgreSQL store cannot be reached (exit 1), and never prints the password")
    func serveStoreValidation() async throws {
        let bad = try await Self.run(
            ["serve", "--secret-key", "0123456789abcdef0123", "--store", "postgres://app:hunter2-secret@db/mail?sslmode=always"], url: nil)
        #expect(bad.status == 2)
        #expect(bad.error.contains("--store (BACKFILL_STORE_URL): the store URL's sslmode must be one of disable, prefer, require, verify-ca, verify-full"))
        #expect(!bad.error.contains("hunter2"))
        let pool = try await Self.run(
            ["serve", "--secret-key", "0123456789abcdef0123", "--store", "postgres://app@db/mail", "--store-pool-size", "0"], url: nil)
        #expect(pool.status == 2 && pool.error.contains("--store-pool-size (BACKFILL_STORE_POOL_SIZE) must be a whole number from 1 to 1000"))

        let redisURL = try #require(ProcessInfo.processInfo.environment["BACKFILL_TEST_REDIS_URL"], "BACKFILL_TEST_REDIS_URL is not set: run the tests with ops/test")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // Nothing listens on port 1: connections are refused, and the store's 10 s wait runs out.
        let unreachable = try await Self.run([
            "serve", "--secret-key", "0123456789abcdef0123", "--listen", "127.0.0.1:0", "--redis-url", redisURL,
            "--data-dir", directory.path, "--store", "postgres://app:hunter2-secret@127.0.0.1:1/mail?sslmode=disable",
        ], url: nil)
        #expect(unreachable.status == 1)
        #expect(unreachable.error.contains("PostgreSQL at 127.0.0.1:1"))
        #expect(!(unreachable.error + unreachable.output).contains("hunter2"))
    }
}
