import BackfillCore
import Foundation

/// One Graph mailbox as requests address it: `/me` for the signed-in user, `/users/{upn}` for a shared
/// mailbox read with its parent connection's token or for any mailbox read with the app's own token.
/// Builds every URL the Graph client requests.
struct GraphMailbox: Sendable {
    /// The connection the mailbox belongs to (its request slots).
    var connectionId: String
    /// The connection whose credentials authorize requests (the parent, for a shared mailbox; the mailbox
    /// itself when app-only, whose subscription calls are then its own).
    var credentialsOwner: String
    var baseURL: String
    /// "/me" or "/users/{escaped upn}".
    var path: String
    /// Authorized by the app's token (client credentials) rather than stored OAuth tokens.
    var appOnly = false

    var tokenOwner: ProviderRequestSender.TokenOwner { appOnly ? .app : .connection(credentialsOwner) }

    /// `/subscriptions` calls are addressed by the token, not by a mailbox path: Graph counts them against the
    /// token's own mailbox, so they take that mailbox's request slots and Retry-After gate (for a shared mailbox,
    /// the parent's).
    var subscriptionCaller: GraphMailbox {
        var caller = self
        caller.connectionId = credentialsOwner
        return caller
    }

    /// The message fields stored (StoredMessage); `isDraft` only to leave drafts out.
    static let messageFields =
        "id,internetMessageId,conversationId,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,hasAttachments,bodyPreview,isDraft"
    static let attachmentFields = "id,name,size,contentType,isInline"

    var root: String { baseURL + path }

    func wellKnownFolder(_ name: String) -> String {
        "\(root)/mailFolders/\(name)?\(Self.query([("$select", "id,displayName,childFolderCount")]))"
    }

    func childFolders(of folderId: String) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/childFolders?"
            + Self.query([("$select", "id,displayName,childFolderCount"), ("$top", "100")])
    }

    /// The first page of a folder's messages in a window, newest first, attachment metadata expanded.
    func messages(in folderId: String, window: DateWindow) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/messages?"
            + Self.query([
                ("$select", Self.messageFields),
                ("$filter", window.graphFilter),
                ("$orderby", "receivedDateTime desc"),
                ("$expand", "attachments($select=\(Self.attachmentFields))"),
            ])
    }

    /// A folder's message ids in a window (and the draft flag, drafts being left out), for the completeness audit.
    func messageIds(in folderId: String, window: DateWindow) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/messages?"
            + Self.query([("$select", "id,isDraft"), ("$filter", window.graphFilter)])
    }

    /// The received time of the message `rank` places from the newest in a window (0: the newest): where
    /// a backfill cuts a folder's window into streams of about equal size.
    func receivedTime(ofRank rank: Int, in folderId: String, window: DateWindow) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/messages?"
            + Self.query([
                ("$select", "id,receivedDateTime"),
                ("$filter", window.graphFilter),
                ("$orderby", "receivedDateTime desc"),
                ("$top", "1"),
                ("$skip", String(rank)),
            ])
    }

    func count(in folderId: String, window: DateWindow) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/messages/$count?" + Self.query([("$filter", window.graphFilter)])
    }

    /// The first request of a delta round over mail received at or after `since` (delta accepts only a
    /// single `ge` clause, docs/providers.md, Graph delta).
    func delta(in folderId: String, since: Date) -> String {
        "\(root)/mailFolders/\(FormEncoding.escape(folderId))/messages/delta?"
            + Self.query([
                ("$select", Self.messageFields),
                ("$filter", "receivedDateTime ge \(GraphDate.format(since))"),
                ("$orderby", "receivedDateTime desc"),
            ])
    }

    /// One message by id, with the fields and attachment metadata a listing has (a skipped message fetched again).
    func message(_ messageId: String) -> String {
        "\(root)/messages/\(FormEncoding.escape(messageId))?"
            + Self.query([("$select", Self.messageFields), ("$expand", "attachments($select=\(Self.attachmentFields))")])
    }

    func attachments(of messageId: String) -> String {
        "\(root)/messages/\(FormEncoding.escape(messageId))/attachments?" + Self.query([("$select", Self.attachmentFields)])
    }

    var subscriptionResource: String { "\(path.dropFirst())/messages" }

    /// `$`-prefixed OData keys stay as they are; values are percent-encoded.
    private static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\(FormEncoding.escape($0.1))" }.joined(separator: "&")
    }
}

extension DateWindow {
    /// The window as a Graph `$filter` on `receivedDateTime` (list accepts `ge … and lt …`, docs/providers.md, Graph listing).
    fileprivate var graphFilter: String {
        "receivedDateTime ge \(GraphDate.format(start)) and receivedDateTime lt \(GraphDate.format(end))"
    }
}
