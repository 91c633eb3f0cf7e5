import BackfillCore
import Foundation

extension GmailProvider: SkippedMessageFetcher {
    /// Fetches the skipped messages again through the batch endpoint: those still refused stay skipped with their
    /// new errors; one deleted meanwhile (404) is dropped.
    public func refetch(
        _ skipped: [SkippedMessage], connectionId: String
    ) async throws -> (stored: [StoredMessage], stillSkipped: [SkippedMessage]) {
        let mailbox = try await mailbox(connectionId)
        let folders = Dictionary(skipped.map { ($0.providerMessageId, $0.folder) }) { first, _ in first }
        let fetched = try await messages(skipped.map(\.providerMessageId), in: mailbox, skipsAlone: true)
        var still = fetched.skipped.map { SkippedMessage(providerMessageId: $0.id, folder: folders[$0.id] ?? .inbox, failure: $0.failure) }
        var stored: [StoredMessage] = []
        for message in fetched.messages where !message.labels.contains("DRAFT") {
            let folder = folders[message.id] ?? .inbox
            guard let row = message.stored(connectionId: connectionId, folder: folder, source: .backfill) else {
                still.append(SkippedMessage(
                    providerMessageId: message.id, folder: folder,
                    failure: .invalidResponse("gmail GET messages.get: message without a usable id or internalDate")
                ))
                continue
            }
            stored.append(row)
        }
        return (stored, still)
    }
}
