/// The buttons on the progress card and their support counterparts.
public enum BackfillCommand: String, Sendable, CaseIterable {
    case pause
    case resume
    case cancel
    case retry

    /// What the command does to a backfill in `state`. The scheduler's scripts apply the same table
    /// atomically in Redis; a test checks the two agree for every pair.
    public func outcome(in state: BackfillState) -> BackfillCommandOutcome {
        switch (self, state) {
        case (.pause, .queued), (.pause, .running), (.pause, .throttled), (.pause, .waitingOnParent):
            // A running worker finishes its current page and stops.
            .moves(to: .paused)
        case (.pause, .paused):
            .unchanged
        case (.resume, .paused):
            .moves(to: .queued)
        case (.resume, .queued), (.resume, .running), (.resume, .throttled), (.resume, .waitingOnParent):
            .unchanged
        case (.cancel, let from) where !from.isFinished:
            // Everything pulled so far is kept.
            .moves(to: .cancelled)
        case (.retry, .failed):
            .moves(to: .queued)
        case (.retry, .queued), (.retry, .running):
            .unchanged
        case (.retry, .throttled):
            // Retrying early would break the provider's Retry-After; it resumes by itself on time.
            .refused("the provider asked to wait; it resumes by itself at retryAt")
        default:
            .refused("cannot \(rawValue) a backfill that is \(state.rawValue.replacingOccurrences(of: "_", with: " "))")
        }
    }

    /// The lifecycle event a move by this command records.
    public var event: BackfillEvent.Kind {
        switch self {
        case .pause: .paused
        case .resume: .resumed
        case .cancel: .cancelled
        case .retry: .retried
        }
    }
}

/// What a command does, decided before anything is written.
public enum BackfillCommandOutcome: Sendable, Equatable {
    case moves(to: BackfillState)
    /// Already where the command would put it: succeeds without a change (commands are idempotent).
    case unchanged
    /// Does not fit the state: the API answers 409 with this reason.
    case refused(String)
}
