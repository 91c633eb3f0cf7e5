import BackfillCore
import Foundation

/// One Gmail mailbox as requests address it (`users/me`, or the address when read with a parent's
/// token) and every URL the Gmail client requests.
struct GmailMailbox: Sendable {
    var connectionId: String
    var credentialsOwner: String
    var baseURL: String
    var userId: String

    var root: String { "\(baseURL)/gmail/v1/users/\(userId)" }

    /// Ids of one label's messages in `window`, widened by a second each side: `after:`/`before:` take
    /// epoch seconds and their boundary semantics are undocumented, so the exact cut is made on
    /// `internalDate` afterwards (docs/providers.md, Gmail listing).
    func list(label: String, window: DateWindow, pageToken: String?, pageSize: Int) -> String {
        let after = Int64(window.start.timeIntervalSince1970.rounded(.down)) - 1
        let before = Int64(window.end.timeIntervalSince1970.rounded(.up)) + 1
        var query = [
            ("labelIds", label), ("q", "after:\(after) before:\(before)"), ("maxResults", String(pageSize)),
        ]
        if let pageToken { query.append(("pageToken", pageToken)) }
        return "\(root)/messages?\(FormEncoding.encode(query))"
    }

    /// A message's `format=full` fetch through the `fields` projection, as a path (a batch's calls name no host).
    func messagePath(_ id: String) -> String {
        "/gmail/v1/users/\(userId)/messages/\(FormEncoding.escape(id))?" + Self.messageQuery
    }

    /// The same for every message: encoded once, not per call.
    private static let messageQuery = FormEncoding.encode([("format", "full"), ("fields", GmailMessage.fields)])

    /// The batch endpoint: many calls in one request, each still charged to the quota.
    var batch: String { "\(baseURL)/batch/gmail/v1" }

    var profile: String { "\(root)/profile" }

    func history(since historyId: String, pageToken: String?) -> String {
        var query = [("startHistoryId", historyId), ("historyTypes", "messageAdded"), ("maxResults", "500")]
        if let pageToken { query.append(("pageToken", pageToken)) }
        return "\(root)/history?\(FormEncoding.encode(query))"
    }

    var watch: String { "\(root)/watch" }
}
