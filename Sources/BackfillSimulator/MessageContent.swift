/// The derived parts of a message (subject, people, body, attachments): a pure function of the mailbox tag
/// and the message serial, so nothing but the compact `MailMessage` is stored.
struct MessageContent {
    struct Attachment {
        let name: String
        let contentType: String
        let size: Int
        let isInline: Bool
        let contentID: String?
    }

    private static let topics = ["Quarterly numbers", "Contract draft", "Team offsite", "Invoice", "Roadmap review",
                                 "Customer escalation", "Hiring plan", "Release notes", "Budget", "Weekly sync",
                                 "Travel booking", "Security review", "Design feedback", "Onboarding", "Renewal"]
    private static let people = [("Rita Ortiz", "rita"), ("Sam Lee", "sam"), ("Ada Park", "ada"),
                                 ("Jo Weber", "jo"), ("Lena Novak", "lena"), ("Omar Haddad", "omar"),
                                 ("Mia Chen", "mia"), ("Tom Berg", "tom")]
    private static let files = [("contract-v3.pdf", "application/pdf"), ("report.xlsx",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                                ("photo.jpg", "image/jpeg"), ("notes.docx",
                                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                                ("archive.zip", "application/zip")]

    private let hash: UInt64
    private let serial: Int
    private let subjectOverride: String?
    private let isSent: Bool
    private let mailboxAddress: String
    private let attachmentKind: MailMessage.Attachments

    init(mailbox: Mailbox, message: MailMessage) {
        hash = SeededRandom.hash(mailbox.tag, UInt64(message.serial))
        serial = message.serial
        subjectOverride = message.subject
        let role = mailbox.folders[message.folder].role
        isSent = role == .sent || role == .drafts
        mailboxAddress = mailbox.address
        attachmentKind = message.attachments
    }

    // Each part is computed when asked for: a page usually selects only a few of them.

    private var topic: String { Self.topics[Int(hash % UInt64(Self.topics.count))] }
    private var person: (String, String) { Self.people[Int((hash >> 8) % UInt64(Self.people.count))] }
    private var domain: String { (hash >> 16) % 2 == 0 ? "fabrikam.example" : "contoso.example" }

    var subject: String { subjectOverride ?? topic + " #" + String(serial) }
    var fromName: String { isSent ? "Mailbox Owner" : person.0 }
    var fromAddress: String { isSent ? mailboxAddress : person.1 + "@" + domain }
    var toAddress: String { isSent ? person.1 + "@" + domain : mailboxAddress }
    var preview: String {
        "Hi, following up on \(topic.lowercased()) (item \(serial)). Let me know what you think."
    }
    var internetMessageID: String { "<\(String(hash, radix: 16)).\(serial)@mail.\(domain)>" }
    var conversationSerial: Int { max(serial - Int((hash >> 24) % 3), 0) }

    var attachments: [Attachment] {
        let h = hash
        var attachments: [Attachment] = []
        switch attachmentKind {
        case .none:
            break
        case .files:
            for i in 0 ..< Int(1 + (h >> 32) % 3) {
                let file = Self.files[(Int(h >> 40) + i) % Self.files.count]
                attachments.append(Attachment(name: file.0, contentType: file.1,
                                              size: 10_000 + Int((h >> (4 * UInt64(i))) % 500_000), isInline: false,
                                              contentID: nil))
            }
            if (h >> 48) % 4 == 0 {
                attachments.append(Self.inlineImage(number: 1, hash: h))
            }
        case .inlineOnly:
            for i in 1 ... Int(1 + (h >> 36) % 2) {
                attachments.append(Self.inlineImage(number: i, hash: h))
            }
        }
        return attachments
    }

    /// Whether there is a non-inline attachment (Graph's `hasAttachments` ignores inline ones).
    var hasFileAttachments: Bool { attachmentKind == .files }

    var bodyHTML: String {
        var html = "<html><body><p>\(preview)</p>"
        for attachment in attachments where attachment.isInline {
            html += "<img src=\"cid:\(attachment.contentID ?? "")\">"
        }
        return html + "</body></html>"
    }

    private static func inlineImage(number: Int, hash: UInt64) -> Attachment {
        Attachment(name: "image00\(number).png", contentType: "image/png", size: 4_000 + Int(hash % 20_000),
                   isInline: true, contentID: "image00\(number).png@\(String(hash % 0xFFFFFF, radix: 16))")
    }
}
