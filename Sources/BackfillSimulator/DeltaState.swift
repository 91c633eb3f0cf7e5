/// Server-side state behind a Graph delta `$skiptoken` or `$deltatoken`: what the round still has to return,
/// and where the next round starts in the mailbox's change log.
struct DeltaState {
    struct Item {
        let message: Int
        let removed: Bool
        /// The move count when the change happened: a removed message's old (mutable) id.
        let moves: Int
    }

    let mailbox: Int
    let folder: Int
    let select: Set<String>?
    let lower: Int64?
    /// The round ends after this many items (`$top`, or the 5,000 cap of filtered rounds).
    let cap: Int?
    var pending: [Item]
    var returned: Int
    /// The change-log position the next round reads from.
    let changeMark: Int
    let chain: UInt64
    let generation: Int
}
