import Foundation

/// Messages a real-time catch-up could not fetch while the provider served the mailbox's others (`SkippedMessage`'s
/// kind of failure), counted over catch-ups in a row. Real time skips nothing it can help: such a refusal fails the
/// catch-up, which runs again from the same cursor. But a message refused `skipAfter` catch-ups in a row is a
/// poison message that would hold up the mailbox's new mail for good: it is skipped then, listed with the
/// backfill's skipped messages (a "retry skipped" fetches it again), and the catch-up goes on without it.
public struct CatchUpRefusals: Sendable, Equatable {
    /// Catch-ups in a row that must refuse a message before it is skipped: with the catch-up's backoff (5 s,
    /// doubling) about half a minute, long enough that a provider's passing trouble with one message is waited out.
    public static let skipAfter = 3

    /// Provider message id → catch-ups in a row that refused it.
    public private(set) var counts: [String: Int]

    public init(counts: [String: Int] = [:]) {
        self.counts = counts
    }

    /// The counts as stored (a JSON object); nil, empty or unreadable is none.
    public init(encoded: String?) {
        let decoded = encoded.flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) }
        self.init(counts: decoded ?? [:])
    }

    /// The counts to store; empty when there are none (an empty sync-state value removes the field).
    public var encoded: String {
        guard !counts.isEmpty else { return "" }
        return String(decoding: (try? JSONEncoder().encode(counts)) ?? Data(), as: UTF8.self)
    }

    /// What a catch-up does after its fetch refused `refused`.
    public enum Decision: Sendable, Equatable {
        /// Nothing refused: it goes on (and the counts are forgotten).
        case proceed
        /// Every refused message has been refused `skipAfter` times in a row: it goes on without them.
        case skip([String])
        /// Some refused message has not: the catch-up fails, to run again from the same cursor.
        case fail
    }

    /// Counts this catch-up's refusals and decides. Only messages refused this time keep a count: one that was
    /// served, or is not listed any more, starts again from zero.
    public mutating func record(refused: [String]) -> Decision {
        counts = Dictionary(refused.map { ($0, (counts[$0] ?? 0) + 1) }) { first, _ in first }
        if refused.isEmpty { return .proceed }
        return counts.values.allSatisfy { $0 >= Self.skipAfter } ? .skip(refused) : .fail
    }
}
