import Foundation

/// A message the provider refuses to serve (a "poison" message: a fetch that fails with server errors while the
/// mailbox's other messages come, or a body that cannot be read), skipped after its bounded sends instead of
/// failing the whole backfill. It is counted and listed with its error, and a "retry skipped" fetches it again.
public struct SkippedMessage: Sendable, Hashable, Codable {
    public var providerMessageId: String
    public var folder: FolderKind
    public var code: BackfillErrorCode
    /// The classified failure's words (never message content).
    public var message: String

    public init(providerMessageId: String, folder: FolderKind, failure: ProviderFailure) {
        self.providerMessageId = providerMessageId
        self.folder = folder
        code = failure.code
        message = failure.message
    }

    /// Whether a failure of one message (not of the mailbox or the request) makes it skippable: the provider
    /// answers for the others but not for it. Throttles, refused tokens and lost access are the mailbox's.
    public static func isSkippable(_ failure: ProviderFailure) -> Bool {
        switch failure {
        case .transient, .invalidResponse: true
        default: false
        }
    }
}
