import BackfillCore

/// This process's `MailboxAdmission` of every mailbox it is sending to, and the requests queued for a place.
/// The decisions are the state machine's; this actor only keeps the table and wakes the queue.
actor MailboxAdmissions {
    let policy: AdmissionPolicy
    private let clock = ContinuousClock()
    private var mailboxes: [String: MailboxAdmission] = [:]
    private var queued: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(policy: AdmissionPolicy) {
        self.policy = policy
    }

    /// Waits for a place of the mailbox (in the queue, or out a short gate) and returns when to send; throws
    /// `throttled` when the wait is too long to make here.
    func enter(_ mailbox: String, cost: Int) async throws -> ContinuousClock.Instant {
        while true {
            try Task.checkCancellation()
            switch mailboxes[mailbox, default: MailboxAdmission(policy: policy)].enter(cost: cost, now: clock.now) {
            case .go(let at):
                return at
            case .queue:
                await withCheckedContinuation { queued[mailbox, default: []].append($0) }
            case .wait(let until):
                try await clock.sleep(until: until)
            case .park(let wait):
                forgetIfIdle(mailbox)
                throw ProviderFailure.throttled(retryAfter: wait)
            case .pace(let wait):
                forgetIfIdle(mailbox)
                throw ProviderFailure.pacing(wait)
            }
        }
    }

    /// The shared gate was found closed by a request holding a place: gives the place back, waits out a short
    /// gate, or throws `throttled` for a long one.
    func sharedGateClosed(_ mailbox: String, for remaining: Duration) async throws {
        let entry = mailboxes[mailbox, default: MailboxAdmission(policy: policy)].sharedGateClosed(for: remaining, now: clock.now)
        wakeQueue(mailbox)
        switch entry {
        case .wait(let until): try await clock.sleep(until: until)
        case .park(let wait): throw ProviderFailure.throttled(retryAfter: wait)
        case .go, .queue, .pace: return
        }
    }

    func answered(
        _ mailbox: String, _ answer: MailboxAdmission.Answer, attempts: inout MailboxAdmission.Attempts
    ) -> (verdict: MailboxAdmission.Verdict, closeSharedGate: Duration?) {
        let result = mailboxes[mailbox, default: MailboxAdmission(policy: policy)].answered(answer, attempts: &attempts, now: clock.now)
        wakeQueue(mailbox)
        return result
    }

    func abandon(_ mailbox: String) {
        mailboxes[mailbox]?.abandon()
        wakeQueue(mailbox)
    }

    private func wakeQueue(_ mailbox: String) {
        let waiting = queued.removeValue(forKey: mailbox) ?? []
        forgetIfIdle(mailbox)
        for waiter in waiting { waiter.resume() }
    }

    /// Forgets a mailbox with nothing to remember, so the table does not grow with every mailbox ever served.
    private func forgetIfIdle(_ mailbox: String) {
        if queued[mailbox] == nil, mailboxes[mailbox]?.isIdle(at: clock.now) == true {
            mailboxes[mailbox] = nil
        }
    }
}
