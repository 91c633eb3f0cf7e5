import BackfillCore
import Testing

@Suite("Retry policy")
struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(2), maxDelay: .seconds(10))

    @Test("throttling waits exactly as told and never counts as a failure")
    func throttling() {
        #expect(policy.decision(after: .throttled(retryAfter: .milliseconds(2128)), attempt: 99, jitter: 0.5)
            == .wait(.milliseconds(2128), countsAsFailure: false))
        #expect(policy.decision(after: .throttled(retryAfter: nil), attempt: 1, jitter: 0)
            == .wait(AdmissionPolicy.defaultRetryAfter, countsAsFailure: false))
    }

    @Test("transient failures back off exponentially, capped, then fail retryably")
    func transient() {
        let failure = ProviderFailure.transient("HTTP 503")
        #expect(policy.decision(after: failure, attempt: 1, jitter: 0) == .wait(.seconds(1), countsAsFailure: true))
        #expect(policy.decision(after: failure, attempt: 2, jitter: 0) == .wait(.seconds(2), countsAsFailure: true))
        #expect(policy.decision(after: failure, attempt: 3, jitter: 0) == .wait(.seconds(4), countsAsFailure: true))
        #expect(policy.decision(after: failure, attempt: 3, jitter: 0.5) == .wait(.seconds(6), countsAsFailure: true))
        #expect(policy.decision(after: failure, attempt: 4, jitter: 0) == .fail(retryable: true))
    }

    @Test("the cap holds however many attempts are allowed")
    func cap() {
        let generous = RetryPolicy(maxAttempts: 100, baseDelay: .seconds(2), maxDelay: .seconds(10))
        #expect(generous.decision(after: .transient("x"), attempt: 80, jitter: 0.999) == .wait(.milliseconds(9995), countsAsFailure: true))
    }

    @Test("auth failures stop at once and need someone to act")
    func auth() {
        #expect(policy.decision(after: .tokenExpired("invalid_grant"), attempt: 1, jitter: 0) == .fail(retryable: false))
        #expect(policy.decision(after: .permissionLost("403"), attempt: 1, jitter: 0) == .fail(retryable: false))
        #expect(policy.decision(after: .parentUnavailable("personal@acme.com"), attempt: 1, jitter: 0) == .waitOnParent)
        #expect(ProviderFailure.parentUnavailable("personal@acme.com").message == "Waiting on personal@acme.com — reconnect it")
        #expect(!BackfillErrorCode.tokenExpired.isRetryable)
        #expect(BackfillErrorCode.invalidResponse.isRetryable)
    }
}
