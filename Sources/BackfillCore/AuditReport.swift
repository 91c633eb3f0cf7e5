import Foundation

/// What one completeness audit of a backfill's window found: the provider's messages compared with the store's,
/// what was missing and stored now (`repaired`), and what the provider would not serve (`unrepaired`, listed as
/// skipped messages).
public struct AuditReport: Sendable, Equatable, Codable {
    public var auditedAt: Date
    /// Messages the provider holds in the window (by its count, or its listing when the counts differed).
    public var providerCount: Int
    /// Messages of the window the store held before the audit.
    public var storedCount: Int
    public var repaired: Int
    public var unrepaired: Int

    public init(auditedAt: Date, providerCount: Int, storedCount: Int, repaired: Int, unrepaired: Int) {
        self.auditedAt = auditedAt
        self.providerCount = providerCount
        self.storedCount = storedCount
        self.repaired = repaired
        self.unrepaired = unrepaired
    }

    /// Nothing was missing, or everything missing was stored.
    public var isComplete: Bool { unrepaired == 0 }

    /// How often a completed backfill is audited again: daily, cheaply (Graph: one `$count` per folder).
    public static let interval: TimeInterval = 86_400
}
