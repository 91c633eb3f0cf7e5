extension StoredMessage {
    /// Refuses what must never be stored: ids that are empty, blank or hold a NUL (SQLite would cut the
    /// text there and two ids could collide), times too far from 1970 to store, and attachments with an
    /// empty or repeated part id or a negative size.
    public func validate(positionInBatch index: Int) throws(MessageStoreError) {
        func refuse(_ problem: String) -> MessageStoreError {
            MessageStoreError(code: .invalidMessage, message: "message \(index) of the batch: \(problem)")
        }
        if !Self.isUsableId(connectionId) { throw refuse("connectionId is empty or holds a NUL character") }
        if !Self.isUsableId(providerMessageId) {
            throw refuse("providerMessageId is empty or holds a NUL character")
        }
        if !StoreTime.isStorable(receivedAt) { throw refuse("receivedAt is out of range") }
        if let sentAt, !StoreTime.isStorable(sentAt) { throw refuse("sentAt is out of range") }
        var partIds = Set<String>()
        for (position, attachment) in attachments.enumerated() {
            if !Self.isUsableId(attachment.providerPartId) {
                throw refuse("attachment \(position) has an empty providerPartId or one with a NUL character")
            }
            if attachment.size < 0 { throw refuse("attachment \(position) has a negative size") }
            if !partIds.insert(attachment.providerPartId).inserted {
                throw refuse("attachment \(position) repeats the providerPartId of an earlier attachment")
            }
        }
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
