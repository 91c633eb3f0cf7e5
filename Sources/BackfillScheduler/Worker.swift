import BackfillCore
import Foundation
import Logging
import Metrics

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
            // The lease runs from before the claim was sent, at the latest: renewals count from here.
            let claimedAt = ContinuousClock.now
            switch try await scheduler.claim(connectionId: connectionId, owner: owner) {
            case .notClaimed:
                return
            case .catchUpOnly(let lease, let dirty):
                logger[metadataKey: LogKey.epoch] = "\(lease.epoch)"
                await catchUp(lease, answering: dirty, logger: logger)
                try await scheduler.release(lease, afterSlice: false)
            case .claimed(let lease, let record, let latency, let dirty, let recovered):
                if recovered { metrics.leaseRecoveries.increment() }
                if let latency { metrics.nudgeToClaim.record(duration: latency) }
                logger[metadataKey: LogKey.backfill] = "\(record.id)"
                logger[metadataKey: LogKey.epoch] = "\(lease.epoch)"
                // Before its preparation a backfill has no real-time cursor from its window's end: a catch-up
                // now would take one from now and leave the mail in between to neither. It runs right after.
                if dirty > 0 && record.prepared { await catchUp(lease, answering: dirty, logger: logger) }
                do {
                    try await runSlice(lease, record, dirty: record.prepared ? 0 : dirty, claimedAt: claimedAt, logger: logger)
                } catch {
                    await handle(error, lease: lease, record: record, logger: logger)
                }
            }
        } catch {
            logger.warning("scheduler call failed; the auditor will bring the connection back", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// One slice: up to `slicePages` pages or `sliceDuration`. A page is fetched, stored, then committed, the
    /// next page's fetch already on the wire meanwhile; the last page is committed after the real-time handoff
    /// (`MailProvider.finish`), and its commit completes the backfill; the slice's last page by count yields in
    /// its commit (release and requeue at the tail). The provider's preparation is recorded by the first commit
    /// after it (or, should the slice end before one, on its own), so a slice costs Redis one script call a page
    /// and little more.
    /// - Parameter dirty: notifications seen at the claim and not yet answered (the backfill was unprepared).
    /// - Parameter claimedAt: when the claim was sent; the lease runs at least a lease duration from then.
    private func runSlice(_ lease: Lease, _ record: BackfillRecord, dirty: Int, claimedAt: ContinuousClock.Instant, logger: Logger) async throws {
        let job = record.job(connectionId: lease.connectionId)
        // The estimated total of a preparation not yet recorded in Redis.
        var unrecorded: Int?
        var cursor = record.cursor
        if !record.prepared {
            let preparation = try await provider.prepare(job)
            unrecorded = preparation.estimatedTotal
            cursor = preparation.firstCursor ?? cursor
            // The real-time cursor now covers mail from the window's end on: deliver what came meanwhile.
            await catchUp(lease, answering: dirty, logger: logger)
        }
        /// Records the preparation on its own (the slice ends before a commit could): false when the lease is lost.
        func recordPreparation() async throws -> Bool {
            guard let total = unrecorded else { return true }
            unrecorded = nil
            return try await scheduler.prepared(lease, estimatedTotal: total) == .done
        }
        let sliceEnd = ContinuousClock.now + scheduler.configuration.sliceDuration
        var pages = 0
        // The backfill's counts as the claim read them; only this lease holder changes them (see `PageCommit`).
        var pulled = record.pulled
        var pagesTotal = record.pages
        var showsError = record.error != nil
        // The lease is renewed by a commit at most every `leaseRenewalInterval`, not by each one.
        var renewedAt = claimedAt
        if record.pagesDone {
            // Every page was committed before (the handoff or the completion failed, or a pause came after the
            // last page): only the handoff and the completion are left.
            guard try await recordPreparation() else { return refused(logger) }
            try await provider.finish(job)
            return await completed(try await scheduler.complete(lease), lease, logger: logger)
        }
        // The next page is fetched while this one is stored and committed (the cursor is known once it is fetched),
        // so a round trip is not spent idle per page. A page fetched ahead of a commit that ends the slice is
        // dropped (its cursor was never committed; the next holder fetches it again). A catch-up for notifications
        // runs between pages, never beside a fetch, so a mailbox's requests stay within one page's.
        try await withThrowingTaskGroup(of: BackfillPage.self) { ahead in
            defer { ahead.cancelAll() }
            var fetchedAhead = false
            // Notifications the last commit saw, answered before the next page's fetch starts.
            var unanswered = 0
            func catchUpBetweenPages() async throws {
                if fetchedAhead {
                    ahead.cancelAll()
                    try? await ahead.waitForAll()
                    fetchedAhead = false
                }
                if unanswered > 0 { await catchUp(lease, answering: unanswered, logger: logger) }
                unanswered = 0
            }
            while true {
                // A page already fetched ahead goes in even when the slice's time ran out meanwhile (nothing asked
                // for after it), rather than be fetched again by the next slice.
                if stopping() || pages >= scheduler.configuration.slicePages || (!fetchedAhead && ContinuousClock.now >= sliceEnd) {
                    try await catchUpBetweenPages()
                    guard try await recordPreparation() else { return refused(logger) }
                    try await scheduler.release(lease, afterSlice: true)
                    return
                }
                let page: BackfillPage
                do {
                    if fetchedAhead, let fetched = try await ahead.next() {
                        page = fetched
                    } else {
                        page = try await provider.fetchPage(job, cursor: cursor)
                    }
                    fetchedAhead = false
                    if unanswered > 0 { try await catchUpBetweenPages() }
                    if let next = page.nextCursor, !stopping(), pages + 1 < scheduler.configuration.slicePages,
                       ContinuousClock.now < sliceEnd {
                        ahead.addTask { try await provider.fetchPage(job, cursor: next) }
                        fetchedAhead = true
                    }
                    // Listed before the page is committed: a page fetched again skips the same ids, listed once.
                    try await scheduler.recordSkipped(page.skipped, connectionId: lease.connectionId)
                    if !page.messages.isEmpty {
                        // Each message names the backfill that stored it (the host's change feed shows it).
                        _ = try await store.insert(page.messages.map { message in
                            var message = message
                            message.backfillId = record.id
                            return message
                        })
                    }
                    if page.nextCursor == nil { try await provider.finish(job) }
                } catch {
                    // The failure parks or stops the backfill: keep the preparation, or the next slice redoes it.
                    _ = try? await recordPreparation()
                    throw error
                }
                let sentAt = ContinuousClock.now
                let yields = pages + 1 >= scheduler.configuration.slicePages
                let renewal: Scheduler.Renewal =
                    !yields && sentAt - renewedAt >= scheduler.configuration.leaseRenewalInterval ? .renew : .none
                let commit = Scheduler.PageCommit(
                    pulled: pulled + page.messages.count, pages: pagesTotal + 1, nextCursor: page.nextCursor, yields: yields,
                    renewal: renewal, clearsError: showsError, estimatedTotal: unrecorded
                )
                let answer = try await scheduler.commit(lease, commit)
                unrecorded = nil
                switch answer {
                case .pause, .cancel: return
                case .stale: return refused(logger)
                case .proceed, .completed, .yielded:
                    logger.debug("page committed", metadata: [
                        "messages": "\(page.messages.count)", "pulled": "\(commit.pulled)", "last": "\(page.nextCursor == nil)",
                    ])
                    metrics.pages.increment()
                    metrics.messages.increment(by: page.messages.count)
                }
                switch answer {
                case .completed: return await completed(.completed, lease, logger: logger)
                case .proceed(_, let dirty):
                    pulled = commit.pulled
                    pagesTotal = commit.pages
                    showsError = false
                    if renewal == .renew { renewedAt = sentAt }
                    unanswered = dirty
                    cursor = page.nextCursor
                    pages += 1
                default: return  // yielded: queued again at the tail
                }
            }
        }
    }

    private func completed(_ reply: Scheduler.CompleteReply, _ lease: Lease, logger: Logger) async {
        switch reply {
        case .completed:
            metrics.completions.increment()
            logger.info("backfill completed")
            // The completeness audit runs at once; should this fail, the backfill simply goes unverified until a
            // support action or the next completion asks again.
            do {
                try await scheduler.scheduleAudit(connectionId: lease.connectionId)
            } catch {
                logger.warning("completeness audit not scheduled", metadata: [LogKey.error: "\(error)"])
            }
        case .stale: refused(logger)
        case .paused, .cancelled: break
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
            if !result.skipped.isEmpty {
                logger.warning("real-time catch-up went on without messages the provider kept refusing; listed as skipped", metadata: [
                    "skipped": "\(result.skipped.count)", LogKey.errorCode: "\(result.skipped[0].code.rawValue)",
                ])
            }
            switch try await scheduler.clearDirty(lease, seen: dirty) {
            case .stale: logger.notice("lease lost during the catch-up; its holder catches up again")
            case .cleared(let waited?): metrics.catchUpDelay.record(duration: waited)
            case .cleared(nil): break
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
        case .pacing(let wait):
            outcome = .retry
            delay = wait
        default: outcome = .retry
        }
        do {
            guard try await scheduler.catchUpFailed(lease, outcome, failure: failure, delay: delay) == .done else {
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
                // Pacing parks as throttled does (it resumes by itself at retryAt); its error code tells them apart.
                let state: BackfillState = failure.isThrottle ? .throttled : .queued
                if state == .throttled { metrics.throttleParks.increment() } else { metrics.transientFailures.increment() }
                logger.notice("backfill parked", metadata: [
                    LogKey.errorCode: "\(failure.code.rawValue)", LogKey.delay: "\(delay.secondsDescription)",
                ])
                if try await scheduler.park(lease, delay: delay, state: state, failure: failure, countsAsFailure: countsAsFailure) == .stale {
                    refused(logger)
                }
            case .waitOnParent:
                logger.notice("backfill waits on its parent connection")
                if try await scheduler.stop(lease, state: .waitingOnParent, code: failure.code, message: failure.message) == .stale {
                    refused(logger)
                }
            case .fail:
                metrics.failures.increment()
                logger.error("backfill failed", metadata: [LogKey.errorCode: "\(failure.code.rawValue)"])
                if try await scheduler.stop(lease, state: .failed, code: failure.code, message: failure.message) == .stale {
                    refused(logger)
                }
            }
        } catch {
            logger.warning("could not record the failure; the auditor will bring the connection back", metadata: [LogKey.error: "\(error)"])
        }
    }
}
