import BackfillCore
import Foundation
import Logging

/// Runs one slice of one connection's backfill: claim, then pages (fetch, store, commit) until the slice
/// ends, the user pauses or cancels, the provider pushes back, or the backfill completes.
struct Worker: Sendable {
    let scheduler: Scheduler
    let provider: any MailProvider
    let store: any MessageStore
    /// Catches up on new mail when webhooks marked the connection dirty; nil where there is none.
    let realtime: (any RealtimeSync)?
    let metrics: SchedulerMetrics
    let owner: String
    let logger: Logger
    /// Set when the instance shuts down: the worker stops after its current page and releases.
    let stopping: @Sendable () -> Bool

    func work(on connectionId: String) async {
        var logger = logger
        logger[metadataKey: LogKey.connection] = "\(connectionId)"
        do {
            switch try await scheduler.claim(connectionId: connectionId, owner: owner) {
            case .notClaimed:
                return
            case .catchUpOnly(let lease, let dirty):
                logger[metadataKey: LogKey.epoch] = "\(lease.epoch)"
                await catchUp(lease, answering: dirty, logger: logger)
                try await scheduler.release(lease)
            case .claimed(let lease, let record, let latency, let dirty, let recovered):
                if recovered { metrics.leaseRecoveries.increment() }
                if let latency { metrics.nudgeToClaim.recordNanoseconds(latency.components.seconds * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000) }
                logger[metadataKey: LogKey.backfill] = "\(record.id)"
                logger[metadataKey: LogKey.epoch] = "\(lease.epoch)"
                // Before its preparation a backfill has no real-time cursor from its window's end: a catch-up
                // now would take one from now and leave the mail in between to neither. It runs right after.
                if dirty > 0 && record.prepared { await catchUp(lease, answering: dirty, logger: logger) }
                do {
                    try await runSlice(lease, record, dirty: record.prepared ? 0 : dirty, logger: logger)
                } catch {
                    await handle(error, lease: lease, record: record, logger: logger)
                }
            }
        } catch {
            logger.warning("scheduler call failed; the auditor will bring the connection back", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// - Parameter dirty: notifications seen at the claim and not yet answered (the backfill was unprepared).
    private func runSlice(_ lease: Lease, _ record: BackfillRecord, dirty: Int, logger: Logger) async throws {
        let job = record.job(connectionId: lease.connectionId)
        if !record.prepared {
            let preparation = try await provider.prepare(job)
            guard try await scheduler.prepared(lease, estimatedTotal: preparation.estimatedTotal) else {
                return refused(logger)
            }
            // The real-time cursor now covers mail from the window's end on: deliver what came meanwhile.
            await catchUp(lease, answering: dirty, logger: logger)
        }
        var cursor = record.cursor
        var pagesDone = record.pagesDone
        let sliceEnd = ContinuousClock.now + scheduler.configuration.sliceDuration
        var pages = 0
        while !pagesDone {
            if stopping() || pages >= scheduler.configuration.slicePages || ContinuousClock.now >= sliceEnd {
                try await scheduler.release(lease)
                return
            }
            let page = try await provider.fetchPage(job, cursor: cursor)
            if !page.messages.isEmpty {
                _ = try await store.insert(page.messages)
            }
            switch try await scheduler.commit(lease, count: page.messages.count, nextCursor: page.nextCursor) {
            case .proceed(let pulled, let dirty):
                logger.debug("page committed", metadata: [
                    "messages": "\(page.messages.count)", "pulled": "\(pulled)", "last": "\(page.nextCursor == nil)",
                ])
                if dirty > 0 { await catchUp(lease, answering: dirty, logger: logger) }
            case .pause, .cancel: return
            case .stale: return refused(logger)
            }
            metrics.pages.increment()
            metrics.messages.increment(by: page.messages.count)
            cursor = page.nextCursor
            pagesDone = cursor == nil
            pages += 1
        }
        try await provider.finish(job)
        switch try await scheduler.complete(lease) {
        case "completed":
            metrics.completions.increment()
            logger.info("backfill completed")
        case "stale": refused(logger)
        default: break
        }
    }

    /// Stores new mail since the real-time cursor (the provider stores before it moves the cursor), then
    /// clears the `dirty` notifications it answered, as the claim or commit counted them; one that came
    /// meanwhile keeps the connection dirty. A failure keeps the marks and never stops the backfill; what it
    /// leaves is the trouble's own: a passing one (5xx, throttling) schedules the next catch-up after a
    /// backoff, a refused token or lost permission puts the connection in `error` (its shared mailboxes wait
    /// on it) until a reconnect, and a broken parent makes a shared mailbox wait on it.
    private func catchUp(_ lease: Lease, answering dirty: Int, logger: Logger) async {
        guard let realtime else { return }
        do {
            let result = try await realtime.catchUp(connectionId: lease.connectionId, into: store)
            metrics.realtimeMessages.increment(by: result.inserted)
            logger.debug("caught up", metadata: ["inserted": "\(result.inserted)", "notifications": "\(dirty)"])
            if result.resyncNeeded {
                logger.notice("real-time cursor had expired; caught up from the last sync by date with a fresh one")
            }
            if try await !scheduler.clearDirty(lease, seen: dirty) {
                logger.notice("lease lost during the catch-up; its holder catches up again")
            }
        } catch {
            await catchUpFailed(lease, error: error, logger: logger)
        }
    }

    private func catchUpFailed(_ lease: Lease, error: any Error, logger: Logger) async {
        let failure = Self.classify(error)
        let outcome: Scheduler.CatchUpFailure
        var delay: Duration?
        switch failure {
        case .tokenExpired, .permissionLost: outcome = .broken
        case .parentUnavailable: outcome = .parent
        case .throttled(let retryAfter):
            outcome = .retry
            delay = retryAfter ?? AdmissionPolicy.defaultRetryAfter
        default: outcome = .retry
        }
        do {
            guard try await scheduler.catchUpFailed(lease, outcome, failure: failure, delay: delay) else {
                return logger.notice("lease lost during the catch-up; its holder catches up again")
            }
            switch outcome {
            case .retry:
                logger.warning("real-time catch-up failed; trying again after a backoff", metadata: [
                    LogKey.errorCode: "\(failure.code.rawValue)", LogKey.error: "\(failure.message)",
                ])
            case .broken:
                logger.error("real-time catch-up refused; the connection needs a reconnect", metadata: [
                    LogKey.errorCode: "\(failure.code.rawValue)",
                ])
                try await scheduler.childrenWaitOnParent(lease.connectionId)
            case .parent:
                logger.notice("real-time catch-up waits on the parent connection")
            }
        } catch {
            logger.warning("could not record the failed catch-up; the connection stays dirty", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Any error as the scheduler's kind of failure: a provider's as it is, a store's as the store's.
    static func classify(_ error: any Error) -> ProviderFailure {
        switch error {
        case let failure as ProviderFailure: failure
        case let store as StoreUnavailable: .storeUnavailable(store.message)
        default: .transient(String(describing: type(of: error)) + ": " + String(describing: error).prefix(200))
        }
    }

    private func refused(_ logger: Logger) {
        metrics.staleCommits.increment()
        logger.warning("commit refused: another worker holds this connection now; stopping")
    }

    /// Turns a failure into the scheduler's answer: park (throttled or backing off) or stop.
    private func handle(_ error: any Error, lease: Lease, record: BackfillRecord, logger: Logger) async {
        let failure = Self.classify(error)
        let decision = scheduler.configuration.retryPolicy.decision(
            after: failure, attempt: record.attempts + 1, jitter: Double.random(in: 0..<1)
        )
        do {
            switch decision {
            case .wait(let delay, let countsAsFailure):
                let state: BackfillState = if case .throttled = failure { .throttled } else { .queued }
                if state == .throttled { metrics.throttleParks.increment() } else { metrics.transientFailures.increment() }
                logger.notice("backfill parked", metadata: [
                    LogKey.errorCode: "\(failure.code.rawValue)", LogKey.delay: "\(delay.secondsDescription)",
                ])
                if try await scheduler.park(lease, delay: delay, state: state, failure: failure, countsAsFailure: countsAsFailure) == "stale" {
                    refused(logger)
                }
            case .waitOnParent:
                logger.notice("backfill waits on its parent connection")
                if try await scheduler.stop(lease, state: .waitingOnParent, code: failure.code, message: failure.message) == "stale" {
                    refused(logger)
                }
            case .fail:
                metrics.failures.increment()
                logger.error("backfill failed", metadata: [LogKey.errorCode: "\(failure.code.rawValue)"])
                if try await scheduler.stop(lease, state: .failed, code: failure.code, message: failure.message) == "stale" {
                    refused(logger)
                }
            }
        } catch {
            logger.warning("could not record the failure; the auditor will bring the connection back", metadata: [LogKey.error: "\(error)"])
        }
    }
}
