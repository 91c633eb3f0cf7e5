import Foundation

/// A PostgreSQL server of one test's own, from `ops/postgres-private` (Debian's binaries), stopped by its pid.
struct PrivatePostgres: Sendable {
    let pid: Int32
    let url: String
    let directory: URL

    var password: String {
        String(url.split(separator: ":")[2].split(separator: "@")[0])
    }

    static func start() async throws -> PrivatePostgres {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("backfill-store-test-\(UUID().uuidString)")
        let printed = directory.path + ".out"
        // The script's line goes to a file, not a pipe, and the script is spawned and waited for directly:
        // the server it leaves running inherits what the script had open, which kept Foundation's `Process`
        // from ever seeing it end. Waiting blocks, so it runs on a Dispatch queue, off Swift's pool.
        let command = "exec \"$0\" \"$1\" > \"$2\" 2>/dev/null"
        let arguments = ["/bin/sh", "-c", command, root.appendingPathComponent("ops/postgres-private").path, directory.path, printed]
        let status: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
                defer { for argument in cArguments { free(argument) } }
                var pid: pid_t = 0
                guard posix_spawn(&pid, "/bin/sh", nil, nil, &cArguments, environ) == 0 else {
                    return continuation.resume(returning: -1)
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        let line = (try? String(contentsOfFile: printed, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: printed)
        let fields = line.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard status == 0, fields.count == 3, let pid = Int32(fields[1]) else {
            throw PostgresTestDatabase.MissingServer()
        }
        return PrivatePostgres(pid: pid, url: fields[2], directory: directory)
    }

    /// Fast shutdown (SIGINT), waited for, then the data directory removed.
    func stop() {
        kill(pid, SIGINT)
        while kill(pid, 0) == 0 { usleep(20_000) }
        try? FileManager.default.removeItem(at: directory)
    }
}
