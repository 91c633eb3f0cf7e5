/// The Graph message fields `$select` can name (besides `id`, which always comes back).
enum MessageField: Int, CaseIterable {
    case createdDateTime, lastModifiedDateTime, receivedDateTime, sentDateTime, hasAttachments, internetMessageId
    case subject, bodyPreview, importance, parentFolderId, conversationId, isRead, isDraft, from, sender
    case toRecipients, ccRecipients, body

    var name: String { String(describing: self) }
    var bit: UInt32 { 1 << UInt32(rawValue) }
}
