import BackfillCore
import Testing

/// The admission state machine alone: time is handed in, so every case is exact and nothing sleeps.
@Suite("Mailbox admission: places, gate, quota, answers")
struct MailboxAdmissionTests {
    let t0 = ContinuousClock.now
    typealias Admission = MailboxAdmission

    func admission(_ configure: (inout AdmissionPolicy) -> Void = { _ in }) -> Admission {
        var policy = AdmissionPolicy(maxConcurrent: 4)
        configure(&policy)
        return Admission(policy: policy)
    }

    @Test("up to maxConcurrent requests hold a place at once; the next is queued until one is given back")
    func places() {
        var machine = admission()
        for _ in 0..<4 { #expect(machine.enter(cost: 1, now: t0) == .go(at: t0)) }
        #expect(machine.enter(cost: 1, now: t0) == .queue)
        var attempts = Admission.Attempts()
        #expect(machine.answered(.success, attempts: &attempts, now: t0) == (.done, nil))
        #expect(machine.enter(cost: 1, now: t0) == .go(at: t0))
        machine.abandon()
        #expect(machine.inFlight == 3)
    }

    @Test("a short Retry-After closes the gate here at once (before the shared one is written) and the request goes again after it")
    func shortThrottle() {
        var machine = admission()
        _ = machine.enter(cost: 1, now: t0)
        var attempts = Admission.Attempts()
        let (verdict, close) = machine.answered(.throttled(retryAfter: .milliseconds(300)), attempts: &attempts, now: t0)
        #expect(verdict == .resend(at: t0 + .milliseconds(300)))
        #expect(close == .milliseconds(300))
        // Every other request of the mailbox waits the gate out too, even one that holds no place yet.
        #expect(machine.enter(cost: 1, now: t0 + .milliseconds(100)) == .wait(until: t0 + .milliseconds(300)))
        #expect(machine.enter(cost: 1, now: t0 + .milliseconds(300)) == .go(at: t0 + .milliseconds(300)))
    }

    @Test("a batch some of whose calls were throttled stands, closes the gate and goes single file")
    func partlyThrottled() {
        var machine = admission()
        _ = machine.enter(cost: 50, now: t0)
        var attempts = Admission.Attempts()
        let (verdict, close) = machine.answered(.partlyThrottled(retryAfter: nil), attempts: &attempts, now: t0)
        #expect(verdict == .done && close == AdmissionPolicy.defaultRetryAfter)
        #expect(attempts == Admission.Attempts())
        #expect(machine.enter(cost: 50, now: t0) == .wait(until: t0 + AdmissionPolicy.defaultRetryAfter))
        #expect(machine.singleFile)
    }

    @Test("a call inside a batch is sent again by the same numbers as a request, then given up")
    func batchCalls() {
        let policy = AdmissionPolicy()
        var attempts = Admission.Attempts()
        var verdicts: [BatchCallVerdict] = []
        for _ in 0..<policy.throttleSends { verdicts.append(.after(.throttled(retryAfter: nil), attempts: &attempts, policy: policy)) }
        #expect(verdicts == [.resend(after: .seconds(1)), .resend(after: .seconds(2)), .resend(after: .seconds(4)), .giveUp, .giveUp, .giveUp])
        var errors = Admission.Attempts()
        #expect(BatchCallVerdict.after(.serverError, attempts: &errors, policy: policy) == .resend(after: .milliseconds(500)))
        #expect(BatchCallVerdict.after(.serverError, attempts: &errors, policy: policy) == .resend(after: .seconds(1)))
        #expect(BatchCallVerdict.after(.serverError, attempts: &errors, policy: policy) == .giveUp)
        #expect(BatchCallVerdict.after(.throttled(retryAfter: .seconds(30)), attempts: &errors, policy: policy) == .giveUp)
        #expect(BatchCallVerdict.after(.success, attempts: &errors, policy: policy) == .done)
    }

    @Test("a throttle naming no time waits the default, doubled for each further throttle of the same request")
    func unnamedThrottle() {
        var machine = admission()
        var attempts = Admission.Attempts()
        var now = t0
        for expected in [1, 2, 4] {
            #expect(machine.enter(cost: 1, now: now) == .go(at: now))
            let (verdict, close) = machine.answered(.throttled(retryAfter: nil), attempts: &attempts, now: now)
            #expect(close == .seconds(expected))
            #expect(verdict == .resend(at: now + .seconds(expected)))
            now += .seconds(expected)
        }
        #expect(AdmissionPolicy.unnamedRetryAfter(throttles: 1) == AdmissionPolicy.defaultRetryAfter)
    }

    @Test("a long Retry-After parks the backfill and still closes the shared gate; later requests park without going")
    func longThrottle() {
        var machine = admission()
        _ = machine.enter(cost: 1, now: t0)
        var attempts = Admission.Attempts()
        #expect(machine.answered(.throttled(retryAfter: .seconds(30)), attempts: &attempts, now: t0) == (.park(.seconds(30)), .seconds(30)))
        #expect(machine.enter(cost: 1, now: t0 + .seconds(10)) == .park(.seconds(20)))
        #expect(machine.inFlight == 0)
    }

    @Test("a request throttled throttleSends times in a row is left to the scheduler, with the wait it was told")
    func throttleBudget() {
        var machine = admission { $0.throttleSends = 3 }
        var attempts = Admission.Attempts()
        var now = t0
        var verdicts: [Admission.Verdict] = []
        for _ in 0..<3 {
            #expect(machine.enter(cost: 1, now: now) == .go(at: now))
            verdicts.append(machine.answered(.throttled(retryAfter: .milliseconds(10)), attempts: &attempts, now: now).verdict)
            now += .milliseconds(10)
        }
        #expect(verdicts == [.resend(at: t0 + .milliseconds(10)), .resend(at: t0 + .milliseconds(20)), .park(.milliseconds(10))])
    }

    @Test("server errors are sent again after a backoff that doubles, then the failure stands")
    func serverErrors() {
        var machine = admission { $0.serverErrorSends = 3; $0.serverErrorBackoff = .milliseconds(50) }
        var attempts = Admission.Attempts()
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.serverError, attempts: &attempts, now: t0) == (.resend(at: t0 + .milliseconds(50)), nil))
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.serverError, attempts: &attempts, now: t0) == (.resend(at: t0 + .milliseconds(100)), nil))
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.serverError, attempts: &attempts, now: t0) == (.done, nil))
        // Server errors leave the gate open.
        #expect(machine.enter(cost: 1, now: t0) == .go(at: t0))
    }

    @Test("a 401 gets one token refresh and one more send; a second 401 means the grant no longer works")
    func unauthorized() {
        var machine = admission()
        var attempts = Admission.Attempts()
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.unauthorized, attempts: &attempts, now: t0) == (.refreshTokenAndResend, nil))
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.unauthorized, attempts: &attempts, now: t0) == (.tokenRefused, nil))
        #expect(machine.inFlight == 0)
    }

    @Test("other failures stand at once and hold nothing back")
    func otherFailures() {
        var machine = admission()
        var attempts = Admission.Attempts()
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.answered(.failed, attempts: &attempts, now: t0) == (.done, nil))
        #expect(machine.isIdle(at: t0))
    }

    @Test("after a throttle one request at a time, until calmAfter answers in a row went through")
    func singleFile() {
        var machine = admission { $0.calmAfter = 3 }
        var attempts = Admission.Attempts()
        _ = machine.enter(cost: 1, now: t0)
        _ = machine.answered(.throttled(retryAfter: .milliseconds(1)), attempts: &attempts, now: t0)
        let later = t0 + .milliseconds(1)
        for _ in 0..<3 {
            #expect(machine.enter(cost: 1, now: later) == .go(at: later))
            #expect(machine.enter(cost: 1, now: later) == .queue)
            var fresh = Admission.Attempts()
            _ = machine.answered(.success, attempts: &fresh, now: later)
        }
        #expect(!machine.singleFile)
        for _ in 0..<4 { #expect(machine.enter(cost: 1, now: later) == .go(at: later)) }
    }

    @Test("the shared gate found closed gives the place back and holds this process's later requests too")
    func sharedGate() {
        var machine = admission()
        _ = machine.enter(cost: 1, now: t0)
        #expect(machine.sharedGateClosed(for: .seconds(2), now: t0) == .wait(until: t0 + .seconds(2)))
        #expect(machine.inFlight == 0)
        #expect(machine.enter(cost: 0, now: t0 + .seconds(1)) == .wait(until: t0 + .seconds(2)))
        _ = machine.enter(cost: 1, now: t0 + .seconds(2))
        #expect(machine.sharedGateClosed(for: .seconds(60), now: t0 + .seconds(2)) == .park(.seconds(60)))
    }

    @Test("quota units in any trailing window never exceed the quota: requests are spread, not refused")
    func quota() {
        let window = Duration.milliseconds(400)
        var machine = admission { $0.unitsPerMinute = 20; $0.quotaWindow = window; $0.maxConcurrent = 100 }
        var sends: [ContinuousClock.Instant] = []
        for _ in 0..<10 {
            guard case .go(let at) = machine.enter(cost: 5, now: t0) else {
                Issue.record("not admitted")
                return
            }
            sends.append(at)
        }
        #expect(sends == (0..<10).map { t0 + window * ($0 / 4) })
        for (index, time) in sends.enumerated() {
            #expect(sends[...index].filter { time - $0 < window }.count * 5 <= 20)
        }
    }

    @Test("a request the quota would hold longer than a short wait parks, and another mailbox's quota is its own")
    func quotaParks() {
        var machine = admission { $0.unitsPerMinute = 10; $0.quotaWindow = .seconds(2); $0.longestInlineWait = .milliseconds(500) }
        #expect(machine.enter(cost: 5, now: t0) == .go(at: t0))
        #expect(machine.enter(cost: 5, now: t0 + .milliseconds(100)) == .go(at: t0 + .milliseconds(100)))
        #expect(machine.enter(cost: 5, now: t0 + .milliseconds(200)) == .pace(.milliseconds(1800)))
        var other = admission { $0.unitsPerMinute = 10; $0.quotaWindow = .seconds(2) }
        #expect(other.enter(cost: 5, now: t0) == .go(at: t0))
    }

    @Test("a mailbox with nothing pending is idle (forgotten by its table); a gate, quota or single file keeps it")
    func idle() {
        var machine = admission { $0.unitsPerMinute = 10; $0.quotaWindow = .seconds(1) }
        #expect(machine.isIdle(at: t0))
        _ = machine.enter(cost: 5, now: t0)
        var attempts = Admission.Attempts()
        _ = machine.answered(.success, attempts: &attempts, now: t0)
        #expect(!machine.isIdle(at: t0 + .milliseconds(500)))
        #expect(machine.isIdle(at: t0 + .seconds(1)))
    }
}
