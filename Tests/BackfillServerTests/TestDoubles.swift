import BackfillCore
import BackfillTestSupport
import Foundation

/// Seals credentials reversibly (base64 behind a marker), so tests can see they were stored sealed.
struct TestSealer: CredentialSealer {
    func seal(_ plaintext: Data) throws -> String { "sealed:" + plaintext.base64EncodedString() }

    func open(_ sealed: String) throws -> Data {
        guard sealed.hasPrefix("sealed:"), let data = Data(base64Encoded: String(sealed.dropFirst(7))) else {
            throw TestSetupError("not sealed by TestSealer")
        }
        return data
    }
}

/// A mailbox of `messageCount` messages served in pages of `pageSize`, each page after `pageDelay`.
/// Provider ids are `<connection>-m<index>`; times fall inside the backfill's window, newest first.
struct TestMailProvider: MailProvider {
    var messageCount: Int
    var pageSize: Int
    var pageDelay: Duration = .zero

    func prepare(_ job: BackfillJob) async throws -> BackfillPreparation {
        BackfillPreparation(estimatedTotal: messageCount)
    }

    func fetchPage(_ job: BackfillJob, cursor: String?) async throws -> BackfillPage {
        if pageDelay > .zero { try await Task.sleep(for: pageDelay) }
        let offset = cursor.flatMap { Int($0) } ?? 0
        let end = min(offset + pageSize, messageCount)
        let messages = (offset..<end).map { index in
            StoredMessage(
                connectionId: job.connectionId, providerMessageId: "\(job.connectionId)-m\(index)", folder: .inbox,
                subject: "message \(index)", receivedAt: job.window.end.addingTimeInterval(-Double(index + 1) * 60),
                source: .backfill
            )
        }
        return BackfillPage(messages: messages, nextCursor: end < messageCount ? String(end) : nil)
    }

    func finish(_ job: BackfillJob) async throws {}
}
