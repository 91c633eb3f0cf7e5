import Foundation

/// One request's hold on its mailbox's shared slots: a fresh id, and the units it counts against the mailbox's
/// in-flight limit (1 a request; for Gmail, 1 a call it carries, so a batch of ten is ten).
public struct SlotPermit: Sendable, Hashable {
    public let id: String
    public let units: Int

    public init(units: Int = 1) {
        id = UUID().uuidString
        self.units = max(units, 1)
    }

    /// The units taken of `limit`: all of it when the permit is larger.
    public func units(of limit: Int) -> Int { min(units, max(limit, 1)) }
}
