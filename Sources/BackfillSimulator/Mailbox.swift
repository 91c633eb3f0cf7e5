import Foundation

/// A mailbox's contents: folders and messages, generated from its spec, plus its change logs (Graph delta,
/// Gmail history). Only touched under the world lock.
final class Mailbox {
    let spec: MailboxSpec
    /// Keys every id of this mailbox, so ids of one mailbox mean nothing in another.
    let tag: UInt64
    /// The Entra user object id (Graph) of the mailbox.
    let userID: String
    var messages: [MailMessage] = []
    var folders: [MailFolder] = []
    /// Revoked: the owner of a shared mailbox lost its grant (403 `ErrorAccessDenied`).
    var grantRevoked = false
    /// Graph: every change, in order, for delta rounds.
    var changes: [MailChange] = []
    /// Gmail: the history log and the current history id.
    var history: [HistoryRecord] = []
    var historyID: UInt64
    /// History ids below this give 404 (set when cursors are expired by hand: `expireHistory`).
    var historyFloor: UInt64 = 0
    var traffic = MailboxTraffic()
    /// Message JSON already written for list pages; a message's entries go when it changes.
    var renderedMessages = RenderedMessageCache()
    private var historyRandom: SeededRandom

    var address: String { spec.address }
    var isGraph: Bool { spec.provider == .graph }

    init(spec: MailboxSpec, scenarioSeed: UInt64, now: Date, nonMessageEvery: Int) {
        self.spec = spec
        let seed = spec.seed ?? scenarioSeed
        tag = SeededRandom.hash(seed, Self.stableHash(spec.address.lowercased()))
        userID = Self.guid(from: tag)
        historyID = 1_000_000 + (tag % 900_000)
        historyRandom = SeededRandom(seed: tag ^ 0x4849_5354)
        folders = MailFolder.Role.allCases.enumerated().map { index, role in
            MailFolder(
                role: role,
                id: IdentifierCodec.folderID(tag: tag, index: index),
                displayName: Self.displayName(role),
                parent: role == .inboxChild ? 0 : nil
            )
        }
        generate(now: Int64(now.timeIntervalSince1970), nonMessageEvery: nonMessageEvery)
    }

    /// The original folder of a role: the first folders are one per role, in `Role.allCases` order; folders made
    /// later (`createInboxChild`) come after them.
    func folder(_ role: MailFolder.Role) -> Int {
        MailFolder.Role.allCases.firstIndex(of: role)!
    }

    /// Generates `messageCount` messages in time order without sorting: each of the two periods (recent and
    /// older) is cut into equal slots, one message per slot at a random point in it.
    private func generate(now: Int64, nonMessageEvery: Int) {
        var random = SeededRandom(seed: tag)
        let count = spec.messageCount
        let recentSeconds = Int64(max(spec.spread.recentDays, 1)) * 86_400
        let allSeconds = max(Int64(spec.spread.days) * 86_400, recentSeconds + 86_400)
        let recentCount = Int((Double(count) * min(max(spec.spread.recentShare, 0), 1)).rounded())
        let olderCount = count - recentCount
        let weights = spec.folders.weights
        let totalWeight = weights.reduce(0, +)
        let roles: [MailFolder.Role] = [.inbox, .inboxChild, .sent, .drafts, .archive, .custom]
        messages.reserveCapacity(count)
        var previous: Int64 = .min
        for index in 0 ..< count {
            let (start, span, slot, slots) = index < olderCount
                ? (now - allSeconds, allSeconds - recentSeconds, index, olderCount)
                : (now - recentSeconds, recentSeconds, index - olderCount, recentCount)
            let slotLength = Double(span) / Double(slots)
            var received = start + Int64((Double(slot) + random.unit()) * slotLength)
            received = min(max(received, previous + 1), now - 1)
            previous = received
            var pick = random.unit() * totalWeight
            var role = roles.last!
            for (candidate, weight) in zip(roles, weights) {
                if pick < weight { role = candidate; break }
                pick -= weight
            }
            let attachmentRoll = random.unit()
            let attachments: MailMessage.Attachments = attachmentRoll >= spec.attachmentShare ? .none
                : (random.unit() < spec.inlineOnlyShare ? .inlineOnly : .files)
            messages.append(MailMessage(
                serial: index, received: received, folder: folder(role), attachments: attachments,
                isEvent: role == .inbox && random.next() % 40 == 0,
                isRead: received < now - 3 * 86_400 || random.next() % 3 == 0,
                historyID: historyID - UInt64(count - index) / 3
            ))
        }
        for message in messages {
            folders[message.folder].entries.append(message.serial)
            folders[message.folder].times.append(message.received)
            if nonMessageEvery > 0, SeededRandom.hash(tag, UInt64(message.serial)) % UInt64(nonMessageEvery) == 0 {
                folders[message.folder].entries.append(-1)
                folders[message.folder].times.append(message.received)
            }
        }
    }

    // MARK: Changes

    /// Expires every history id issued so far, as Gmail's retention does with old ones: the current id moves on
    /// (ids have gaps anyway) and `history.list` refuses a start before it with 404, so a cursor taken before
    /// is dead even when no mail came since, while a fresh one (`getProfile`) works.
    func expireHistory() {
        historyID += 1 + historyRandom.next() % 9
        historyFloor = historyID
    }

    /// Appends a Gmail history record with a fresh, non-contiguous id.
    @discardableResult
    func recordHistory(_ kind: HistoryRecord.Kind, message: Int, labels: [String], at time: Date) -> UInt64 {
        historyID += 1 + historyRandom.next() % 9
        history.append(HistoryRecord(id: historyID, kind: kind, message: message, labels: labels, time: time))
        messages[message].historyID = historyID
        return historyID
    }

    /// Adds a new message to a folder (received at `time`) and logs it for delta and history.
    func inject(into folderIndex: Int, subject: String?, attachments: MailMessage.Attachments, at time: Date) -> Int {
        let index = messages.count
        let received = max(Int64(time.timeIntervalSince1970), (messages.last?.received ?? 0) + 1)
        messages.append(MailMessage(
            serial: index, received: received, folder: folderIndex, attachments: attachments,
            isEvent: false, isRead: false, historyID: historyID, subject: subject
        ))
        folders[folderIndex].insert(message: index, received: received)
        changes.append(MailChange(kind: .created, message: index, folder: folderIndex))
        recordHistory(.messageAdded, message: index, labels: labels(of: messages[index]), at: time)
        return index
    }

    /// Moves a message: its Graph id changes (unless immutable ids are asked for); Gmail sees label changes.
    func move(_ index: Int, to destination: Int, at time: Date) {
        let source = messages[index].folder
        guard source != destination, !messages[index].isDeleted else { return }
        let oldLabels = labels(of: messages[index])
        folders[source].remove(message: index, received: messages[index].received)
        changes.append(MailChange(kind: .removed, message: index, folder: source))
        messages[index].folder = destination
        messages[index].moves += 1
        renderedMessages.forget(index)
        folders[destination].insert(message: index, received: messages[index].received)
        changes.append(MailChange(kind: .created, message: index, folder: destination))
        let newLabels = labels(of: messages[index])
        let removed = oldLabels.filter { !newLabels.contains($0) }
        let added = newLabels.filter { !oldLabels.contains($0) }
        if !removed.isEmpty { recordHistory(.labelRemoved, message: index, labels: removed, at: time) }
        if !added.isEmpty { recordHistory(.labelAdded, message: index, labels: added, at: time) }
    }

    /// Makes a new child folder of the Inbox, as a user does; its id continues the folder numbering.
    func createInboxChild(displayName: String) -> Int {
        let index = folders.count
        folders.append(MailFolder(role: .inboxChild, id: IdentifierCodec.folderID(tag: tag, index: index),
                                  displayName: displayName, parent: folder(.inbox)))
        return index
    }

    /// Deletes a folder as Graph does: its messages go to Deleted Items, each as a move (so both folders' change
    /// logs tell it), and the folder is gone from every Graph view.
    func deleteFolder(_ index: Int, at time: Date) {
        for message in folders[index].entries where message >= 0 {
            move(message, to: folder(.deletedItems), at: time)
        }
        folders[index].entries.removeAll()
        folders[index].times.removeAll()
        folders[index].isDeleted = true
    }

    /// Deletes a message for good.
    func delete(_ index: Int, at time: Date) {
        guard !messages[index].isDeleted else { return }
        let folderIndex = messages[index].folder
        folders[folderIndex].remove(message: index, received: messages[index].received)
        messages[index].isDeleted = true
        renderedMessages.forget(index)
        changes.append(MailChange(kind: .removed, message: index, folder: folderIndex))
        recordHistory(.messageDeleted, message: index, labels: [], at: time)
    }

    // MARK: Derived views

    /// Gmail labels of a message, from its folder.
    func labels(of message: MailMessage) -> [String] {
        var labels: [String]
        switch folders[message.folder].role {
        case .inbox: labels = ["INBOX", "CATEGORY_PERSONAL"]
        case .inboxChild: labels = ["INBOX", GmailLabel.projects.id]
        case .sent: labels = ["SENT"]
        case .drafts: labels = ["DRAFT"]
        case .archive: labels = []
        case .custom: labels = [GmailLabel.receipts.id]
        case .deletedItems: labels = ["TRASH"]
        }
        if !message.isRead, labels.contains("INBOX") { labels.append("UNREAD") }
        return labels
    }

    /// Whether a backfill of Inbox (with its child folders) and Sent must store this message.
    func isBackfilled(_ message: MailMessage) -> Bool {
        guard !message.isDeleted else { return false }
        switch folders[message.folder].role {
        case .inbox, .inboxChild, .sent: return true
        case .drafts, .archive, .custom, .deletedItems: return false
        }
    }

    /// The index of the message an id names, if it is this mailbox's and current.
    func messageIndex(graphID: String) -> Int? {
        guard let decoded = IdentifierCodec.decodeMessageID(graphID, tag: tag),
              decoded.serial < messages.count
        else { return nil }
        let message = messages[decoded.serial]
        guard !message.isDeleted, decoded.immutable || decoded.moves == message.moves else { return nil }
        return decoded.serial
    }

    func messageIndex(gmailID: String) -> Int? {
        guard let serial = IdentifierCodec.decodeGmailID(gmailID, tag: tag), serial < messages.count,
              !messages[serial].isDeleted
        else { return nil }
        return serial
    }

    func graphID(of index: Int, immutable: Bool) -> String {
        IdentifierCodec.messageID(tag: tag, serial: index, moves: immutable ? 0 : messages[index].moves, immutable: immutable)
    }

    func gmailID(of index: Int) -> String {
        IdentifierCodec.gmailID(tag: tag, serial: index)
    }

    /// Folder by id or well-known name (case-insensitive), as Graph paths accept; a deleted folder is not found.
    func folderIndex(named name: String) -> Int? {
        let lowered = name.lowercased()
        return folders.firstIndex { !$0.isDeleted && ($0.id == name || $0.wellKnownName == lowered) }
    }

    /// The folders Graph lists under a folder (deleted ones gone).
    func children(of parent: Int) -> [Int] {
        folders.indices.filter { folders[$0].parent == parent && !folders[$0].isDeleted }
    }

    // MARK: Helpers

    private static func displayName(_ role: MailFolder.Role) -> String {
        switch role {
        case .inbox: "Inbox"
        case .inboxChild: "Projects"
        case .sent: "Sent Items"
        case .drafts: "Drafts"
        case .archive: "Archive"
        case .custom: "Receipts"
        case .deletedItems: "Deleted Items"
        }
    }

    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        return hash
    }

    static func guid(from value: UInt64) -> String {
        let a = SeededRandom.mix(value), b = SeededRandom.mix(value ^ 0xA5A5)
        let hex = String(format: "%016llx%016llx", a, b)
        let chars = Array(hex)
        return "\(String(chars[0 ..< 8]))-\(String(chars[8 ..< 12]))-4\(String(chars[13 ..< 16]))-8\(String(chars[17 ..< 20]))-\(String(chars[20 ..< 32]))"
    }
}

/// A change in a Graph folder, in the order it happened (delta rounds read from a position in this log).
struct MailChange {
    enum Kind { case created, removed }
    let kind: Kind
    let message: Int
    let folder: Int
}

/// One Gmail history record.
struct HistoryRecord {
    enum Kind: String { case messageAdded, messageDeleted, labelAdded, labelRemoved }
    let id: UInt64
    let kind: Kind
    let message: Int
    let labels: [String]
    let time: Date
}

/// A mailbox's traffic as the limits and the journal see it.
struct MailboxTraffic {
    var inFlight = 0
    var maxInFlight = 0
    /// The end of the latest Retry-After given to this mailbox's client.
    var retryNotBefore: Date?
    /// Requests that arrived before a Retry-After they had been given had passed.
    var violations = 0
    var requests = 0
    /// Graph: request times in the sliding window. Gmail: quota units by time.
    var window = SlidingWindow()
}

/// The user labels every Gmail mailbox has.
enum GmailLabel {
    case projects, receipts

    var id: String { self == .projects ? "Label_1" : "Label_2" }
    var name: String { self == .projects ? "Projects" : "Receipts" }
}
