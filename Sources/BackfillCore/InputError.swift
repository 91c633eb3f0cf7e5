/// Untrusted input that was refused: a stable machine code and a message saying what was wrong.
/// The message never echoes secrets; callers truncate what they quote.
public struct InputError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
