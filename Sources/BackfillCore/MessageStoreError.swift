/// Why the store refused a request. Texts name the offending field and the message's position in its
/// batch, never an id's or a message's content.
public struct MessageStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal this is; a struct over a private enum, so new codes can be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: String, Sendable {
            case invalidMessage
            case invalidPageLimit
            case invalidCursor
            case unreadableRow
        }

        private let kind: Kind

        /// A message in a batch breaks a rule (an empty id, a negative attachment size, ...). Nothing of
        /// the batch was stored.
        public static let invalidMessage = Code(kind: .invalidMessage)
        /// A page was asked for with a limit outside `1...maximumPageLimit` of the store.
        public static let invalidPageLimit = Code(kind: .invalidPageLimit)
        /// A page was asked for after a cursor no page could have ended at (a time out of range).
        public static let invalidCursor = Code(kind: .invalidCursor)
        /// A stored row holds a value this version cannot read (the file was written by another program).
        public static let unreadableRow = Code(kind: .unreadableRow)

        public var description: String { kind.rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "MessageStoreError(\(code)): \(message)" }
}
