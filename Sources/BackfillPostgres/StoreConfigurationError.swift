/// A store URL or pool setting that cannot work; the message says which part and never quotes a password.
public struct StoreConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
