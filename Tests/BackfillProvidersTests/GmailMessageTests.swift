import BackfillCore
@testable import BackfillProviders
import Foundation
import Testing

@Suite("Gmail message conversion")
struct GmailMessageTests {
    let json = """
        {"id":"18c3e0b5a1f2d4c7","threadId":"18c3dfe911aa0b23","labelIds":["INBOX","IMPORTANT"],
         "snippet":"Hi Jo","internalDate":"1610031722000",
         "payload":{"partId":"","mimeType":"multipart/mixed","filename":"",
           "headers":[{"name":"From","value":"\\"Park, Ada\\" <ada@example.org>"},
                      {"name":"To","value":"jo@example.net, Bo <bo@example.net>"},
                      {"name":"cc","value":"legal@example.org"},
                      {"name":"Subject","value":"Signed agreement"},
                      {"name":"Date","value":"Thu, 7 Jan 2021 15:02:01 +0000"},
                      {"name":"Message-Id","value":"<CAB4x7Q-01@mail.example.org>"}],
           "body":{"size":0},
           "parts":[
             {"partId":"0","mimeType":"multipart/related","filename":"","body":{"size":0},"parts":[
               {"partId":"0.0","mimeType":"text/html","filename":"","body":{"size":1306}},
               {"partId":"0.1","mimeType":"image/png","filename":"logo.png","body":{"size":912,"attachmentId":"ANGj-ephemeral-1"}}]},
             {"partId":"1","mimeType":"application/pdf","filename":"agreement-signed.pdf","body":{"attachmentId":"ANGj-ephemeral-2","size":181233}}]}}
        """

    @Test("headers, dates and attachments keyed by part id become the stored message")
    func converts() throws {
        let message = try JSONDecoder().decode(GmailMessage.self, from: Data(json.utf8))
        let stored = try #require(message.stored(connectionId: "c1", folder: .inbox, source: .backfill))
        #expect(stored.providerMessageId == "18c3e0b5a1f2d4c7")
        #expect(stored.conversationId == "18c3dfe911aa0b23")
        #expect(stored.from == "ada@example.org")
        #expect(stored.to == ["jo@example.net", "bo@example.net"])
        #expect(stored.cc == ["legal@example.org"])
        #expect(stored.subject == "Signed agreement")
        #expect(stored.internetMessageId == "<CAB4x7Q-01@mail.example.org>")
        #expect(stored.receivedAt == Date(timeIntervalSince1970: 1_610_031_722))
        #expect(stored.sentAt == Date(timeIntervalSince1970: 1_610_031_721))
        #expect(stored.hasAttachments)
        #expect(stored.attachments == [
            AttachmentMetadata(providerPartId: "0.1", name: "logo.png", size: 912, contentType: "image/png"),
            AttachmentMetadata(providerPartId: "1", name: "agreement-signed.pdf", size: 181_233, contentType: "application/pdf"),
        ])
    }

    @Test("a message that is a single file (a scanner's mail) with a spam Date in the year 9999 is stored: the file is its top-level part, the sent time left out")
    func singleFileOddDate() throws {
        let json = """
            {"id":"18c3e0b5a1f2d4c8","threadId":"18c3e0b5a1f2d4c8","labelIds":["INBOX"],"snippet":"","internalDate":"1610031722000",
             "payload":{"partId":"","mimeType":"application/pdf","filename":"scan.pdf",
               "headers":[{"name":"Subject","value":"Scan\\u0000"},{"name":"Date","value":"Fri, 31 Dec 9999 23:59:59 +0000"}],
               "body":{"size":52011,"attachmentId":"ANGj-ephemeral-3"}}}
            """
        let message = try JSONDecoder().decode(GmailMessage.self, from: Data(json.utf8))
        let stored = try #require(message.stored(connectionId: "c1", folder: .inbox, source: .realtime))
        #expect(stored.sentAt == nil)
        #expect(stored.attachments == [AttachmentMetadata(providerPartId: "", name: "scan.pdf", size: 52_011, contentType: "application/pdf")])
        #expect(stored.hasAttachments)
        #expect(stored.problem == nil, "the store takes it")
        #expect(stored.subject == "Scan\u{0}", "the store itself replaces the NUL")
    }

    @Test("header names match ignoring ASCII case only")
    func headerNames() {
        #expect(GmailMessage.sameName("Message-ID", "message-id"))
        #expect(GmailMessage.sameName("MESSAGE-id", "message-id"))
        #expect(GmailMessage.sameName("cc", "cc"))
        #expect(!GmailMessage.sameName("Cc ", "cc"))
        #expect(!GmailMessage.sameName("X-Cc", "cc"))
        #expect(!GmailMessage.sameName("Fröm", "from"))
        #expect(!GmailMessage.sameName("[rom", "{rom"))  // '[' + 32 is '{', but '[' is not a letter
    }
}
