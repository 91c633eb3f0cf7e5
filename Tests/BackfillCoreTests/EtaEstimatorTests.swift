import BackfillCore
import Foundation
import Testing

@Suite("ETA")
struct EtaEstimatorTests {
    let start = Date(timeIntervalSince1970: 1_000_000)
    let estimator = EtaEstimator(warmUp: .seconds(60))

    func progress(_ state: BackfillState = .running, pulled: Int, retryAt: Date? = nil) -> BackfillProgress {
        BackfillProgress(state: state, pulled: pulled, estimatedTotal: 8_500, rateSince: start, pulledAtRateSince: 500, retryAt: retryAt)
    }

    @Test("no ETA before the rate has been watched for a minute")
    func warmUp() {
        #expect(estimator.secondsRemaining(for: progress(pulled: 1_000), now: start.addingTimeInterval(59)) == nil)
    }

    @Test("remaining messages divided by the observed rate")
    func steady() {
        // 1,200 messages in 120 s since the rate began: 10/s; 8,500 - 1,700 = 6,800 left.
        #expect(estimator.secondsRemaining(for: progress(pulled: 1_700), now: start.addingTimeInterval(120)) == 680)
    }

    @Test("while throttled the wait is added")
    func throttled() {
        let now = start.addingTimeInterval(120)
        let p = progress(.throttled, pulled: 1_700, retryAt: now.addingTimeInterval(45))
        #expect(estimator.secondsRemaining(for: p, now: now) == 725)
    }

    @Test("paused, finished or not moving: no ETA")
    func noEta() {
        let later = start.addingTimeInterval(300)
        #expect(estimator.secondsRemaining(for: progress(.paused, pulled: 1_700), now: later) == nil)
        #expect(estimator.secondsRemaining(for: progress(.completed, pulled: 1_700), now: later) == nil)
        #expect(estimator.secondsRemaining(for: progress(pulled: 500), now: later) == nil)
    }

    @Test("an estimate that was too low gives zero, not a negative time")
    func overrun() {
        #expect(estimator.secondsRemaining(for: progress(pulled: 9_000), now: start.addingTimeInterval(120)) == 0)
    }
}
