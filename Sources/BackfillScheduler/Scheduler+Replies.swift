import BackfillCore

/// What the worker sends with a page's commit, and the worker-side scripts' replies decoded (the claim's and
/// the commit's are `ClaimResult` and `CommitAnswer`).
extension Scheduler {
    /// One stored page's commit. `pulled` and `pages` are the backfill's counts with this page: the holder
    /// read them at its claim and is the only one to change them while it holds the lease. The last page
    /// (`nextCursor` nil) is committed after the real-time handoff, and its commit completes the backfill.
    struct PageCommit: Sendable, Equatable {
        var pulled: Int
        var pages: Int
        /// nil: this was the last page.
        var nextCursor: String?
        /// The slice's last page by count (`slicePages`): the commit also releases the lease and queues the
        /// connection again at the tail, as `release` does.
        var yields = false
        var renewal: Renewal = .none
        /// The backfill still shows an error from before (a park): this commit deletes it.
        var clearsError = false
        /// The provider's preparation, when this is the first commit after it: recorded with the page.
        var estimatedTotal: Int?
    }

    /// What a commit does besides recording the page (see `SchedulerScripts.commit`).
    enum Renewal: String, Sendable, Equatable {
        case none = ""
        /// The lease runs a lease duration from now again, and `lastProgressAt` is set.
        case renew
    }

    /// The reply of a script whose only failure is a lost lease (`prepared`, `release`, `catchUpFailed`).
    enum FencedReply: Sendable, Equatable {
        case done, stale

        /// `success`: the first words of the script's replies that mean done.
        init(script: String, success: String..., reply: [String]) throws {
            switch reply.first {
            case let word? where success.contains(word): self = .done
            case "stale": self = .stale
            default: throw SchedulerError.unexpectedReply(script: script, reply)
            }
        }
    }

    /// `clearDirty`'s reply.
    enum ClearDirtyReply: Sendable, Equatable {
        /// `waited`: how long the mail the catch-up answered had waited since it was first marked (nil: nothing was
        /// marked with a time).
        case cleared(waited: Duration?)
        case stale

        init(reply: [String]) throws {
            switch (reply.first, reply.count) {
            case ("cleared", 3):
                guard let ms = Int64(reply[2]) else { throw SchedulerError.unexpectedReply(script: "clearDirty", reply) }
                self = .cleared(waited: ms >= 0 ? .milliseconds(ms) : nil)
            case ("stale", _): self = .stale
            default: throw SchedulerError.unexpectedReply(script: "clearDirty", reply)
            }
        }
    }

    /// `complete`'s reply.
    enum CompleteReply: Sendable, Equatable {
        case completed
        /// The user paused or cancelled before the completion; the lease is released.
        case paused, cancelled
        case stale

        init(reply: [String]) throws {
            switch reply.first {
            case "completed": self = .completed
            case "pause": self = .paused
            case "cancel": self = .cancelled
            case "stale": self = .stale
            default: throw SchedulerError.unexpectedReply(script: "complete", reply)
            }
        }
    }

    /// The reply of `park` and `stop`.
    enum StopReply: Sendable, Equatable {
        /// Parked or stopped as asked.
        case done
        /// The backfill had left running meanwhile (paused, cancelled): it keeps that state.
        case left(BackfillState)
        case stale

        init(script: String, success: String, reply: [String]) throws {
            switch reply.first {
            case success: self = .done
            case "stale": self = .stale
            case let state?:
                guard let state = BackfillState(rawValue: state) else { throw SchedulerError.unexpectedReply(script: script, reply) }
                self = .left(state)
            case nil: throw SchedulerError.unexpectedReply(script: script, reply)
            }
        }
    }
}
