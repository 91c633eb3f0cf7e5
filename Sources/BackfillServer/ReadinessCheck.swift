import BackfillCore
import BackfillRedis
import BackfillScheduler
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

extension ReadinessCheck {
    /// Redis's part of `/readyz`, answered within `RedisOutagePolicy.readinessTimeout`: nil when PING
    /// answers PONG, "unreachable" when the client knows Redis is down or the PING gets no answer in time
    /// (its own connection, fail-fast: it never waits out the command timeout), else what went wrong.
    static func redisProblem(_ redis: RedisProbe) async -> String? {
        guard !redis.isKnownDown else { return "unreachable" }
        do {
            return try await redis.isReachable(within: RedisOutagePolicy.readinessTimeout) ? nil : "PING answered unexpectedly"
        } catch let error as RedisError where error.isOutage {
            return "unreachable"
        } catch {
            return "PING failed"
        }
    }
}
