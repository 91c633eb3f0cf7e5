import BackfillCore

/// A message store in memory for provider tests; `failNextInsert` makes the next insert throw, as a store
/// that is down (or a process killed before its insert) would.
actor MemoryMessageStore: MessageStore {
    struct Unavailable: Error {}

    private(set) var ids: Set<String> = []
    private var failNext = false

    func failNextInsert() { failNext = true }

    func insert(_ messages: [StoredMessage]) async throws -> Int {
        if failNext {
            failNext = false
            throw Unavailable()
        }
        let before = ids.count
        ids.formUnion(messages.map(\.providerMessageId))
        return ids.count - before
    }

    func messages(connectionId: String, limit: Int, after cursor: MessagePageCursor?) async throws -> MessagePage {
        MessagePage(messages: [], next: nil)
    }

    func count(connectionId: String) async throws -> Int { ids.count }

    func changes(after: Int64, limit: Int) async throws -> ChangePage { ChangePage(changes: [], next: after) }

    func record(_ events: [BackfillEvent]) async throws -> Int { events.count }

    func events(after: Int64, limit: Int) async throws -> BackfillEventPage { BackfillEventPage(events: [], next: after) }
}
