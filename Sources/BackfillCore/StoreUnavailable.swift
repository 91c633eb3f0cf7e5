/// The message store could not do its work for a reason outside the request: the disk is full, an I/O
/// error, a read-only file, a database that cannot be reached. Stores throw it so that the scheduler
/// tells it apart from a provider's failure (`ProviderFailure.storeUnavailable`) and waits instead of
/// failing the backfill. The message names the condition, never message content.
public struct StoreUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
