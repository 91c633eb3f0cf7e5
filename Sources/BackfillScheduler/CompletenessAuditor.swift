import BackfillCore
import Logging
import ServiceLifecycle

/// Runs the completeness audits that are due (`P:audit:due`: at once after a backfill completes, then daily), a
/// few at a time, looking every `pollInterval`. An audit that fails (the provider throttles, the store is down)
/// comes back when its hold ends.
public struct CompletenessAuditor: Service {
    let audit: CompletenessAudit
    let logger: Logger
    let pollInterval: Duration
    /// Audits taken per look, run one after another.
    static let batch = 4
    /// How long a taken audit is held before another instance may take it (a killed instance's come back).
    static let hold: Duration = .seconds(600)

    public init(audit: CompletenessAudit, logger: Logger, pollInterval: Duration = .seconds(30)) {
        self.audit = audit
        self.logger = logger
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let due = try await audit.scheduler.claimDueAudits(limit: Self.batch, hold: Self.hold)
                for connectionId in due {
                    await runOne(connectionId)
                }
                if due.count == Self.batch { continue }
            } catch {
                logger.warning("audit queue unreadable; retrying", metadata: [LogKey.error: "\(error)"])
            }
            // Only the wait ends at a graceful shutdown: an audit under way finishes (its requests are on the wire).
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
    }

    private func runOne(_ connectionId: String) async {
        do {
            guard let report = try await audit.run(connectionId: connectionId) else { return }
            logger.info("completeness audit", metadata: [
                LogKey.connection: "\(connectionId)", "provider_count": "\(report.providerCount)",
                "stored_count": "\(report.storedCount)", "repaired": "\(report.repaired)", "unrepaired": "\(report.unrepaired)",
            ])
        } catch {
            logger.warning("completeness audit failed; it comes back later", metadata: [
                LogKey.connection: "\(connectionId)", LogKey.error: "\(error)",
            ])
        }
    }
}
