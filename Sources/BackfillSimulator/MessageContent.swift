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

    let subject: String
    let fromName: String
    let fromAddress: String
    let toAddress: String
    let preview: String
    let internetMessageID: String
    let conversationSerial: Int
    let attachments: [Attachment]

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

    init(mailbox: Mailbox, message: MailMessage) {
        let h = SeededRandom.hash(mailbox.tag, UInt64(message.serial))
        let topic = Self.topics[Int(h % UInt64(Self.topics.count))]
        subject = message.subject ?? "\(topic) #\(message.serial)"
        let person = Self.people[Int((h >> 8) % UInt64(Self.people.count))]
        let domain = (h >> 16) % 2 == 0 ? "fabrikam.example" : "contoso.example"
        let isSent = mailbox.folders[message.folder].role == .sent || mailbox.folders[message.folder].role == .drafts
        if isSent {
            fromName = "Mailbox Owner"
            fromAddress = mailbox.address
            toAddress = "\(person.1)@\(domain)"
        } else {
            fromName = person.0
            fromAddress = "\(person.1)@\(domain)"
            toAddress = mailbox.address
        }
        preview = "Hi, following up on \(topic.lowercased()) (item \(message.serial)). Let me know what you think."
        internetMessageID = "<\(String(h, radix: 16)).\(message.serial)@mail.\(domain)>"
        conversationSerial = max(message.serial - Int((h >> 24) % 3), 0)
        var attachments: [Attachment] = []
        switch message.attachments {
        case .none:
            break
        case .files:
            for i in 0 ..< Int(1 + (h >> 32) % 3) {
                let file = Self.files[(Int(h >> 40) + i) % Self.files.count]
                attachments.append(Attachment(name: file.0, contentType: file.1,
                                              size: 10_000 + Int((h >> (4 * i)) % 500_000), isInline: false,
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
        self.attachments = attachments
    }

    var hasFileAttachments: Bool { attachments.contains { !$0.isInline } }

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
