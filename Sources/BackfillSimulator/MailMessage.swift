/// One generated (or injected) message. Compact, because a mailbox may hold 100,000 of them; everything
/// else (subject, addresses, attachments) is derived from `serial` on demand.
struct MailMessage {
    /// What the message carries as attachments.
    enum Attachments: UInt8 {
        case none
        /// One or more regular file attachments (and maybe an inline image too).
        case files
        /// Only inline images: Graph says `hasAttachments: false` for these.
        case inlineOnly
    }

    /// The message's number in its mailbox, also its index in `Mailbox.messages`.
    let serial: Int
    /// Seconds since 1970.
    var received: Int64
    var folder: Int
    /// Times moved: part of the (mutable) Graph id, so the id changes on every move.
    var moves: Int = 0
    var attachments: Attachments
    var isDeleted = false
    /// A meeting request (`#microsoft.graph.eventMessage`).
    var isEvent: Bool
    var isRead: Bool
    /// Gmail: the last history record that touched the message.
    var historyID: UInt64
    /// A subject given when injected; nil: derived from the serial.
    var subject: String?
}

/// A folder of a mailbox, in Graph's terms (Gmail shows the same folders as labels).
struct MailFolder {
    enum Role: String, CaseIterable {
        case inbox, inboxChild, sent, drafts, archive, custom, deletedItems
    }

    let role: Role
    let id: String
    let displayName: String
    let parent: Int?
    /// Deleted by the user (`DELETE /_sim/mailboxes/{address}/folders/{id}`): Graph no longer finds it by id or lists
    /// it, but it keeps its index so folder indices (delta states, changes, messages) stay valid.
    var isDeleted = false
    /// The folder's items, oldest first: message indices, and -1 for non-message items (calendar items and
    /// the like) that count in `totalItemCount` and in `$skip` but are never listed.
    var entries: [Int] = []
    /// The received time of each entry (a non-message item takes its neighbour's).
    var times: [Int64] = []

    var wellKnownName: String? {
        switch role {
        case .inbox: "inbox"
        case .sent: "sentitems"
        case .drafts: "drafts"
        case .archive: "archive"
        case .deletedItems: "deleteditems"
        case .inboxChild, .custom: nil
        }
    }

    var messageCount: Int { entries.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// The first entry position whose time is not below `time` (entries are ordered by time).
    func lowerBound(_ time: Int64) -> Int {
        var low = 0, high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] < time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Adds a message at its place in time order.
    mutating func insert(message index: Int, received: Int64) {
        var position = lowerBound(received)
        while position < times.count, times[position] == received { position += 1 }
        entries.insert(index, at: position)
        times.insert(received, at: position)
    }

    mutating func remove(message index: Int, received: Int64) {
        var position = lowerBound(received)
        while position < entries.count, times[position] == received {
            if entries[position] == index {
                entries.remove(at: position)
                times.remove(at: position)
                return
            }
            position += 1
        }
    }
}
