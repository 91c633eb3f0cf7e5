import BackfillCore
import Foundation

/// What `/readyz` asks of the message store beyond answering a query: that its directory takes a write.
public struct ReadinessCheck: Sendable {
    let run: @Sendable () async throws -> Void

    public init(_ run: @escaping @Sendable () async throws -> Void) {
        self.run = run
    }

    /// The store answers a count, and a small probe file can be written (and removed) in `directory`,
    /// where the store keeps its file. The file work runs on a Dispatch queue, off Swift's pool.
    public static func store(_ store: any MessageStore, directory: URL) -> ReadinessCheck {
        ReadinessCheck {
            _ = try await store.count(connectionId: "readyz-probe")
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async {
                    let probe = directory.appendingPathComponent(".readyz-\(UUID().uuidString)")
                    do {
                        try Data("ok".utf8).write(to: probe)
                        try FileManager.default.removeItem(at: probe)
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}
