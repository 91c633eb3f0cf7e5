import BackfillCore
import Testing

@Suite("Backfill commands")
struct BackfillCommandTests {
    @Test("pause stops every live state and is idempotent")
    func pause() {
        for state in [BackfillState.queued, .running, .throttled, .waitingOnParent] {
            #expect(BackfillCommand.pause.outcome(in: state) == .moves(to: .paused))
        }
        #expect(BackfillCommand.pause.outcome(in: .paused) == .unchanged)
    }

    @Test("resume continues a paused backfill and refuses a finished one")
    func resume() {
        #expect(BackfillCommand.resume.outcome(in: .paused) == .moves(to: .queued))
        #expect(BackfillCommand.resume.outcome(in: .running) == .unchanged)
        #expect(BackfillCommand.resume.outcome(in: .completed) == .refused("cannot resume a backfill that is completed"))
    }

    @Test("cancel ends every unfinished state and refuses finished ones")
    func cancel() {
        for state in BackfillState.allCases {
            let outcome = BackfillCommand.cancel.outcome(in: state)
            if state.isFinished {
                guard case .refused = outcome else { Issue.record("cancel of \(state) was \(outcome)"); continue }
            } else {
                #expect(outcome == .moves(to: .cancelled))
            }
        }
    }

    @Test("retry restarts a failed backfill but never jumps a provider's Retry-After")
    func retry() {
        #expect(BackfillCommand.retry.outcome(in: .failed) == .moves(to: .queued))
        guard case .refused(let reason) = BackfillCommand.retry.outcome(in: .throttled) else {
            Issue.record("retry of throttled was not refused")
            return
        }
        #expect(reason.contains("retryAt"))
        #expect(BackfillCommand.retry.outcome(in: .cancelled) == .refused("cannot retry a backfill that is cancelled"))
        #expect(BackfillCommand.retry.outcome(in: .waitingOnParent) == .refused("cannot retry a backfill that is waiting on parent"))
    }

    @Test("runnable and finished states are the documented ones")
    func stateSets() {
        #expect(BackfillState.allCases.filter(\.isRunnable) == [.queued, .running, .throttled])
        #expect(BackfillState.allCases.filter(\.isFinished) == [.completed, .cancelled, .failed])
    }
}
