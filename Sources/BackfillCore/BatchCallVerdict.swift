/// What becomes of one call inside a batch request (Gmail's batch endpoint answers every call on its own while
/// the batch itself succeeds). A throttled or failed call is sent again in a later batch, by the same numbers
/// `MailboxAdmission` applies to a whole request; the batch as a whole already went through admission.
public enum BatchCallVerdict: Sendable, Equatable {
    /// The call's answer stands (a message, a 404, or a failure that sending again would not change).
    case done
    /// Send the call again in a batch that goes no earlier than this long from now.
    case resend(after: Duration)
    /// The call was sent as often as the policy allows: a throttle parks the backfill, a server error skips
    /// or fails the message.
    case giveUp

    /// The verdict for a call answered `answer`, counted into `attempts` (the call's sends so far).
    public static func after(
        _ answer: MailboxAdmission.Answer, attempts: inout MailboxAdmission.Attempts, policy: AdmissionPolicy
    ) -> BatchCallVerdict {
        switch answer {
        case .success, .failed, .partlyThrottled: return .done
        case .unauthorized: return .giveUp  // the batch's token is refreshed by the batch, not per call
        case .throttled(let retryAfter):
            attempts.throttles += 1
            let wait = retryAfter ?? AdmissionPolicy.unnamedRetryAfter(throttles: attempts.throttles)
            guard attempts.throttles < policy.throttleSends, wait <= policy.longestInlineWait else { return .giveUp }
            return .resend(after: wait)
        case .serverError:
            attempts.serverErrors += 1
            guard attempts.serverErrors < policy.serverErrorSends else { return .giveUp }
            return .resend(after: policy.serverErrorBackoff * (1 << min(attempts.serverErrors - 1, 10)))
        }
    }
}
