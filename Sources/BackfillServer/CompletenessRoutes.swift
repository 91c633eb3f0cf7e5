import BackfillCore
import BackfillScheduler
import Foundation
import Hummingbird
import Logging

/// Completeness: messages the provider refused to serve (`SkippedMessage`) and the audit. `GET
/// /v1/connections/{id}/skipped` lists the skipped with their errors; `POST /v1/connections/{id}/skipped/retry`
/// fetches them again, stores what comes and keeps listing what is still refused; `POST /v1/connections/{id}/audit`
/// runs the completeness audit now (support: "is everything there?").
struct CompletenessRoutes: Sendable {
    let reader: ConnectionReader
    let scheduler: Scheduler
    /// nil when the instance's provider cannot fetch single messages (test doubles): retry answers 409.
    let fetcher: (any SkippedMessageFetcher)?
    let store: any MessageStore
    /// nil when the provider or store cannot be audited (test doubles): audit answers 409.
    let audit: CompletenessAudit?
    let logger: Logger

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("connections/{id}/skipped") { _, context in try await list(try context.parameters.require("id")) }
        group.post("connections/{id}/skipped/retry") { _, context in try await retry(try context.parameters.require("id")) }
        group.post("connections/{id}/audit") { _, context in try await runAudit(try context.parameters.require("id")) }
    }

    private func runAudit(_ id: String) async throws -> Response {
        let connection = try await reader.require(id)
        try ConnectionRoutes.requireConnected(connection, toDo: "audit it")
        guard let audit else {
            throw APIError(.conflict, code: "not_supported", message: "this instance's provider or store cannot be audited")
        }
        let report: AuditReport?
        do {
            report = try await audit.run(connectionId: id)
        } catch let failure as ProviderFailure {
            throw APIError(.badGateway, code: failure.code.rawValue, message: failure.message)
        }
        guard let report else {
            throw APIError(.conflict, code: "backfill_unfinished", message: "only a completed backfill is audited")
        }
        return try Response.json(report)
    }

    private func list(_ id: String) async throws -> Response {
        _ = try await reader.require(id)
        return try Response.json(SkippedMessagesView(skipped: try await scheduler.skippedMessages(connectionId: id)))
    }

    private func retry(_ id: String) async throws -> Response {
        let connection = try await reader.require(id)
        try ConnectionRoutes.requireConnected(connection, toDo: "retry skipped messages")
        guard let fetcher else {
            throw APIError(.conflict, code: "not_supported", message: "this instance's provider cannot fetch single messages")
        }
        let skipped = try await scheduler.skippedMessages(connectionId: id)
        guard !skipped.isEmpty else { return try Response.json(SkippedRetryView(retried: 0, stored: 0, stillSkipped: [])) }
        let result: (stored: [StoredMessage], stillSkipped: [SkippedMessage])
        do {
            result = try await fetcher.refetch(skipped, connectionId: id)
        } catch let failure as ProviderFailure {
            throw APIError(.badGateway, code: failure.code.rawValue, message: failure.message)
        }
        // History the backfill skipped: stored under its id, as its other pages were.
        let backfillId = try await scheduler.backfill(connectionId: id)?.id
        let stored = result.stored.map { message in
            var message = message
            message.backfillId = backfillId
            return message
        }
        let inserted = stored.isEmpty ? 0 : try await store.insert(stored)
        let still = Set(result.stillSkipped.map(\.providerMessageId))
        // Forget what was stored or is gone; what is still refused is listed again with its new error.
        try await scheduler.forgetSkipped(skipped.map(\.providerMessageId).filter { !still.contains($0) }, connectionId: id)
        try await scheduler.recordSkipped(result.stillSkipped, connectionId: id)
        logger.info("skipped messages retried", metadata: [
            "connection": "\(id)", "retried": "\(skipped.count)", "stored": "\(inserted)", "still_skipped": "\(still.count)",
        ])
        return try Response.json(SkippedRetryView(retried: skipped.count, stored: inserted, stillSkipped: result.stillSkipped))
    }
}

/// `GET /v1/connections/{id}/skipped`.
struct SkippedMessagesView: Codable, Sendable {
    var skipped: [SkippedMessage]
}

/// `POST /v1/connections/{id}/skipped/retry`: how many were tried, how many stored now, and those still refused.
struct SkippedRetryView: Codable, Sendable {
    var retried: Int
    var stored: Int
    var stillSkipped: [SkippedMessage]
}
