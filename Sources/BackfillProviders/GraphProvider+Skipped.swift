import BackfillCore
import Foundation

extension GraphProvider: SkippedMessageFetcher {
    /// Fetches each skipped message by id, side by side (4 in flight): one still unreadable, or answered with a
    /// server error, stays skipped with its new error; one deleted meanwhile (404) is dropped.
    public func refetch(
        _ skipped: [SkippedMessage], connectionId: String
    ) async throws -> (stored: [StoredMessage], stillSkipped: [SkippedMessage]) {
        let mailbox = try await mailbox(connectionId)
        let route = "graph GET messages/{id}"
        let answers = try await concurrently(skipped) { entry -> Result<StoredMessage?, ProviderFailure> in
            do {
                let response = try await send(mailbox, url: mailbox.message(entry.providerMessageId), route: route, allowing: [404])
                if response.status == 404 { return .success(nil) }
                let item = try ResponseDecoding.decode(GraphMessage.self, from: response.body, route: route)
                guard let message = item.stored(connectionId: connectionId, folder: entry.folder, source: .backfill) else {
                    return .failure(.invalidResponse("\(route): message without a usable id or receivedDateTime"))
                }
                return .success(message)
            } catch let failure as ProviderFailure where SkippedMessage.isSkippable(failure) {
                return .failure(failure)
            }
        }
        var stored: [StoredMessage] = []
        var still: [SkippedMessage] = []
        for (entry, answer) in zip(skipped, answers) {
            switch answer {
            case .success(let message?): stored.append(message)
            case .success(nil): break
            case .failure(let failure):
                still.append(SkippedMessage(providerMessageId: entry.providerMessageId, folder: entry.folder, failure: failure))
            }
        }
        return (stored, still)
    }
}
