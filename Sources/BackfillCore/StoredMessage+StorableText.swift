import Foundation

extension StoredMessage {
    /// The message as a store keeps it: a NUL character in its free text (subject, sender, snippet, the internet
    /// message and conversation ids, an attachment's name and type) becomes U+FFFD. PostgreSQL's `text` refuses a
    /// NUL, and with it the whole page on every retry; SQLite stores it but reads the text back cut at it. A
    /// provider's text can hold one (a broken encoded-word decodes to it), and a mailbox must not stop on it.
    /// Ids a message is known by are never changed (`validate` refuses a NUL there); recipients are stored as
    /// JSON, whose escaping carries a NUL as it is.
    public var withStorableText: StoredMessage {
        guard Self.holdsNUL(subject) || Self.holdsNUL(from) || Self.holdsNUL(snippet) || Self.holdsNUL(internetMessageId)
            || Self.holdsNUL(conversationId) || attachments.contains(where: { Self.holdsNUL($0.name) || Self.holdsNUL($0.contentType) })
        else { return self }
        var message = self
        message.subject = subject.map(Self.storable)
        message.from = from.map(Self.storable)
        message.snippet = snippet.map(Self.storable)
        message.internetMessageId = internetMessageId.map(Self.storable)
        message.conversationId = conversationId.map(Self.storable)
        for index in message.attachments.indices {
            message.attachments[index].name = Self.storable(message.attachments[index].name)
            message.attachments[index].contentType = Self.storable(message.attachments[index].contentType)
        }
        return message
    }

    /// `memchr` over the string's own bytes: every message passes here on its way to the store.
    private static func holdsNUL(_ text: String?) -> Bool {
        guard var text else { return false }
        return text.withUTF8 { bytes in bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false }
    }

    private static func storable(_ text: String) -> String {
        guard holdsNUL(text) else { return text }
        return String(decoding: text.utf8.flatMap { $0 == 0 ? Array("\u{FFFD}".utf8) : [$0] }, as: UTF8.self)
    }
}
