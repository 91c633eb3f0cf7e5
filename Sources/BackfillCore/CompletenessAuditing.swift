import Foundation

/// What the completeness audit asks of a provider: the messages it holds in a backfill's window, as the backfill
/// would have stored them (Inbox with its subfolders, and Sent; no drafts), and the missing ones fetched by id.
public protocol CompletenessAuditing: SkippedMessageFetcher {
    /// The provider's own count per folder in `window`, when it has a cheap exact one (Graph's `$count`); nil when
    /// only a listing tells (Gmail: `resultSizeEstimate` is not a count, and a listing of ids costs no more).
    func auditCounts(connectionId: String, window: DateWindow) async throws -> [FolderKind: Int]?
    /// Every message id the provider holds in `window`, by the folder the backfill stores it under. Ids near the
    /// window's edges may lie just outside it (Gmail lists by whole seconds): the fetched message decides.
    func auditIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>]
}

/// What the completeness audit reads from a store.
public protocol AuditableMessageStore: MessageStore {
    /// The provider ids stored for a connection whose received time lies in `window`, whatever their folder.
    func providerMessageIds(connectionId: String, window: DateWindow) async throws -> [FolderKind: Set<String>]
}
