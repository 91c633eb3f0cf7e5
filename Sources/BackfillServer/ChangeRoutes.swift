import BackfillCore
import Foundation
import Hummingbird

/// The host's two feeds, both paged the same way: `GET /v1/changes?after=&limit=`, every message stored across
/// all connections in the store's sequence order, and its sibling `GET /v1/backfill-events?after=&limit=`, every
/// backfill's lifecycle steps (started, completed with its count and failed with its code, from the workers;
/// paused, resumed, retried and cancelled, from the API) in their own sequence. `after` is the previous page's `next` (0, or left out, from the
/// start); a page that comes back empty keeps `next` as it was, so a follower polls with it.
struct ChangeRoutes: Sendable {
    let store: any MessageStore

    static let defaultLimit = 100
    static let maximumLimit = 1000

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("changes") { request, _ in try await changes(request) }
        group.get("backfill-events") { request, _ in try await events(request) }
    }

    private func changes(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try ConnectionRoutes.limit(query, default: Self.defaultLimit, maximum: Self.maximumLimit)
        let after = try Self.after(query["after"].map(String.init))
        let page = try await store.changes(after: after, limit: limit)
        return try Response.json(ChangePageView(
            changes: page.changes.map { ChangePageView.Change(seq: $0.seq, message: $0.message) }, next: page.next))
    }

    private func events(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try ConnectionRoutes.limit(query, default: Self.defaultLimit, maximum: Self.maximumLimit)
        let after = try Self.after(query["after"].map(String.init))
        let page = try await store.events(after: after, limit: limit)
        return try Response.json(BackfillEventPageView(
            events: page.events.map { BackfillEventPageView.Event(seq: $0.seq, event: $0.event) }, next: page.next))
    }

    /// The `after` query parameter: a sequence number, a whole number from 0 (digits only).
    static func after(_ text: String?) throws(APIError) -> Int64 {
        guard let text else { return 0 }
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int64(text) else {
            throw APIError(.badRequest, code: "invalid_cursor",
                           message: "'after' must be a sequence number (a whole number from 0), like a previous page's next")
        }
        return value
    }
}

/// `GET /v1/changes`.
public struct ChangePageView: Codable, Sendable {
    public struct Change: Codable, Sendable {
        public var seq: Int64
        public var message: StoredMessage
    }

    public var changes: [Change]
    public var next: Int64
}
