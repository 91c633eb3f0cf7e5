import Foundation

/// `openssl s_server -www` on a free loopback port with a fresh self-signed certificate: a TLS server that
/// no default trust store accepts. It answers `GET /` with a status page.
struct TLSTestServer: Sendable {
    /// "https://127.0.0.1:PORT/".
    let url: String

    static func with<T: Sendable>(_ body: @Sendable (TLSTestServer) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backfill-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path
        let certificate = directory.appendingPathComponent("cert.pem").path

        let generate = try start([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
        ])
        guard await generate.exit() == 0 else { throw TLSTestServerError.openSSLFailed("req") }

        let server = try start(["s_server", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", key, "-www"])
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await serve(server, body))
        } catch {
            outcome = .failure(error)
        }
        // SIGKILL and wait: a server merely sent SIGTERM outlived the test run (left behind, reparented to init).
        kill(server.process.processIdentifier, SIGKILL)
        _ = await server.exit()
        return try outcome.get()
    }

    /// Runs `body` once s_server says it listens ("ACCEPT 127.0.0.1:PORT").
    private static func serve<T: Sendable>(
        _ server: RunningProcess, _ body: @Sendable (TLSTestServer) async throws -> T
    ) async throws -> T {
        var output = ""
        for await chunk in server.output {
            output += chunk
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("ACCEPT ") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                return try await body(TLSTestServer(url: "https://127.0.0.1:\(port)/"))
            }
        }
        throw TLSTestServerError.openSSLFailed("s_server")
    }

    private struct RunningProcess: Sendable {
        let process: Process
        let output: AsyncStream<String>
        let exitStatus: AsyncStream<Int32>

        func exit() async -> Int32? {
            var iterator = exitStatus.makeAsyncIterator()
            return await iterator.next()
        }
    }

    /// Starts `openssl` with `arguments`; its output and exit arrive as streams, so nothing blocks.
    private static func start(_ arguments: [String]) throws -> RunningProcess {
        guard let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else {
            throw TLSTestServerError.openSSLMissing
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let (output, outputContinuation) = AsyncStream<String>.makeStream()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                outputContinuation.finish()
            } else {
                outputContinuation.yield(String(decoding: data, as: UTF8.self))
            }
        }
        let (exitStatus, exitContinuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            exitContinuation.yield(process.terminationStatus)
            exitContinuation.finish()
        }
        try process.run()
        return RunningProcess(process: process, output: output, exitStatus: exitStatus)
    }
}

enum TLSTestServerError: Error, CustomStringConvertible {
    case openSSLMissing
    case openSSLFailed(String)

    var description: String {
        switch self {
        case .openSSLMissing: "the TLS tests need the openssl command (Debian package openssl)"
        case .openSSLFailed(let command): "openssl \(command) failed"
        }
    }
}
