extension StoredMessage {
    /// Refuses what must never be stored: ids that are empty, blank or hold a NUL (SQLite would cut the
    /// text there and two ids could collide), times too far from 1970 to store, and attachments with a part
    /// id holding a NUL, a repeated part id or a negative size. (An empty part id is Gmail's top-level part,
    /// which is the attachment when a message is a single file.)
    public func validate(positionInBatch index: Int) throws(MessageStoreError) {
        if let problem {
            throw MessageStoreError(code: .invalidMessage, message: "message \(index) of the batch: \(problem)")
        }
    }

    /// What makes the message unstorable (see `validate`), or nil.
    public var problem: String? {
        if !Self.isUsableId(connectionId) { return "connectionId is empty or holds a NUL character" }
        if !Self.isUsableId(providerMessageId) { return "providerMessageId is empty or holds a NUL character" }
        if !StoreTime.isStorable(receivedAt) { return "receivedAt is out of range" }
        if let sentAt, !StoreTime.isStorable(sentAt) { return "sentAt is out of range" }
        var partIds = Set<String>()
        for (position, attachment) in attachments.enumerated() {
            if attachment.providerPartId.utf8.contains(0) { return "attachment \(position) has a providerPartId with a NUL character" }
            if attachment.size < 0 { return "attachment \(position) has a negative size" }
            if !partIds.insert(attachment.providerPartId).inserted {
                return "attachment \(position) repeats the providerPartId of an earlier attachment"
            }
        }
        return nil
    }

    /// A provider's message made storable, or nil when it cannot be (an id that is empty or holds a NUL, a
    /// received time out of range). A provider's fields are untrusted, and one odd message must neither refuse
    /// its page nor stop real time (both would retry it forever): a sent time out of range is the sender's claim
    /// (a spam `Date:` in the year 9999) and is left out, an attachment whose part id holds a NUL or repeats an
    /// earlier one is left out, and a negative size counts as 0 (unknown). `hasAttachments` stays as the provider said.
    public func fittedForStore() -> StoredMessage? {
        guard Self.isUsableId(connectionId), Self.isUsableId(providerMessageId), StoreTime.isStorable(receivedAt) else { return nil }
        guard problem != nil else { return self }
        var message = self
        if let sentAt, !StoreTime.isStorable(sentAt) { message.sentAt = nil }
        var partIds = Set<String>()
        message.attachments = attachments.compactMap { attachment in
            guard !attachment.providerPartId.utf8.contains(0), partIds.insert(attachment.providerPartId).inserted else { return nil }
            var kept = attachment
            kept.size = max(attachment.size, 0)
            return kept
        }
        return message
    }

    /// One pass over the UTF-8 bytes (Character properties cost a Unicode table lookup per character):
    /// no NUL, and at least one byte that is not ASCII white space.
    private static func isUsableId(_ id: String) -> Bool {
        var hasVisible = false
        for byte in id.utf8 {
            if byte == 0 { return false }
            if byte != 0x20 && !(0x09...0x0D).contains(byte) { hasVisible = true }
        }
        return hasVisible
    }
}
