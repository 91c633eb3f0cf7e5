import BackfillCore
import BackfillScheduler
import Foundation
import Hummingbird
import Logging

/// The `/v1` API: connect, list, backfill commands, support actions, disconnect, messages.
struct ConnectionRoutes: Sendable {
    let reader: ConnectionReader
    let scheduler: Scheduler
    let connector: MailboxConnector
    let store: any MessageStore
    let body: RequestBodyReader
    let logger: Logger
    /// Whether `"auth": "app"` connections are configured (the app's tenant and client credentials).
    var graphAppOnly = false

    var directory: RedisConnectionDirectory { reader.directory }

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("connections") { request, _ in try await list(request) }
        group.post("connections") { request, _ in try await connect(request) }
        group.get("connections/{id}") { _, context in try await show(try context.parameters.require("id")) }
        group.delete("connections/{id}") { _, context in try await disconnect(try context.parameters.require("id")) }
        group.post("connections/{id}/backfill") { request, context in
            try await start(try context.parameters.require("id"), request)
        }
        for command in BackfillCommand.allCases {
            group.post("connections/{id}/backfill/\(command.rawValue)") { _, context in
                try await apply(command, to: try context.parameters.require("id"))
            }
        }
        group.post("connections/{id}/backfill/reset") { request, context in
            try await reset(try context.parameters.require("id"), request)
        }
        group.post("connections/{id}/nudge") { _, context in try await nudge(try context.parameters.require("id")) }
        group.get("connections/{id}/messages") { request, context in
            try await messages(try context.parameters.require("id"), request)
        }
    }

    // MARK: Handlers

    /// Pages of `limit` (default 100, at most 500) in the order mailboxes were connected.
    private func list(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.limit(query, default: 100, maximum: 500)
        let after = query["after"].map(String.init)
        if let after, !RedisConnectionDirectory.isPageCursor(after) {
            throw APIError(.badRequest, code: "invalid_cursor", message: "'after' is not a cursor this API handed out")
        }
        return try Response.json(try await reader.page(after: after, limit: limit))
    }

    /// The `limit` query parameter, a whole number from 1 to `maximum`.
    static func limit(_ query: Parameters, default fallback: Int, maximum: Int) throws(APIError) -> Int {
        guard let text = query["limit"] else { return fallback }
        guard let value = Int(text), (1...maximum).contains(value) else {
            throw APIError(.badRequest, code: "invalid_limit", message: "'limit' must be a whole number from 1 to \(maximum)")
        }
        return value
    }

    private func connect(_ request: Request) async throws -> Response {
        let json = try await body.json(of: request)
        try json.allowOnly(["provider", "address", "accessToken", "refreshToken", "expiresAt", "parentId", "auth"])
        let providerName = try json.requiredString("provider")
        guard let provider = ProviderKind(rawValue: providerName) else {
            throw APIError(.badRequest, code: "unknown_provider", message: "unknown provider '\(providerName.prefix(40))'; use graph or gmail")
        }
        let address = try json.requiredString("address")
        guard Self.isPlausibleAddress(address) else {
            throw APIError(.badRequest, code: "invalid_field", message: "field 'address' must be a mailbox address like name@example.com, without spaces or control characters")
        }
        // Absent: delegated. Present, it must name one (null or empty is refused, unlike optional fields).
        let authName = json.contains("auth") ? try json.optionalString("auth") ?? "" : ConnectionAuth.delegated.rawValue
        guard let auth = ConnectionAuth(rawValue: authName) else {
            throw APIError(.badRequest, code: "invalid_field", message: "field 'auth' must be 'delegated' (the default) or 'app'")
        }
        if auth == .app {
            return try await connectWithApp(json, provider: provider, address: address)
        }
        let credentials = OAuthCredentials(
            accessToken: try json.requiredString("accessToken"), refreshToken: try json.requiredString("refreshToken"),
            expiresAt: try json.optionalDate("expiresAt")
        )
        let parentId = try json.optionalString("parentId")
        if let parentId {
            guard let parent = try await directory.connection(parentId) else {
                throw APIError(.notFound, code: "not_found", message: "parentId '\(parentId.prefix(64))' names no connection")
            }
            guard parent.provider == .graph, provider == .graph, parent.parentId == nil else {
                throw APIError(.badRequest, code: "invalid_field",
                               message: "field 'parentId' must name a personal Microsoft 365 (graph) connection, for a graph mailbox")
            }
            guard parent.auth == .delegated else {
                throw APIError(.badRequest, code: "invalid_field",
                               message: "field 'parentId' names a connection read with the app's token, which has none to lend; connect this mailbox with \"auth\": \"app\" too")
            }
            // Parents are one level deep: no mailbox is its own parent, and one that lends its token to
            // shared mailboxes cannot become one (which would make a chain, or with its parent a cycle).
            if let existing = try await directory.connectionId(provider: provider, address: address) {
                guard existing != parentId else {
                    throw APIError(.badRequest, code: "invalid_field", message: "field 'parentId' names this mailbox itself; a mailbox cannot be its own parent")
                }
                guard try await directory.children(of: existing).isEmpty else {
                    throw APIError(.badRequest, code: "invalid_field",
                                   message: "field 'parentId' would make a chain of parents: this mailbox has shared mailboxes under it")
                }
            }
        }
        let (connection, reconnected) = try await connector.connect(
            provider: provider, address: address, credentials: credentials, parentId: parentId
        )
        return try Response.json(try await reader.requireView(connection.id), status: reconnected ? .ok : .created)
    }

    /// `"auth": "app"`: a Microsoft 365 mailbox read with the service's own app token (client credentials),
    /// personal or shared alike. No tokens and no parent; the service must hold the app's configuration.
    private func connectWithApp(_ json: JSONBody, provider: ProviderKind, address: String) async throws -> Response {
        guard provider == .graph else {
            throw APIError(.badRequest, code: "invalid_field", message: "field 'auth' can be 'app' only with provider graph (Microsoft 365)")
        }
        for field in ["accessToken", "refreshToken", "expiresAt"] where json.contains(field) {
            throw APIError(.badRequest, code: "invalid_field",
                           message: "field '\(field)' must be left out with auth 'app': the service's own app token reads the mailbox")
        }
        if try json.optionalString("parentId") != nil {
            throw APIError(.badRequest, code: "invalid_field",
                           message: "field 'parentId' must be left out with auth 'app': a mailbox read with the app's token has no parent")
        }
        guard graphAppOnly else {
            throw APIError(.conflict, code: "app_auth_not_configured", message: """
                app-only Microsoft 365 access is not configured on this service: start it with --graph-app-tenant \
                (BACKFILL_GRAPH_APP_TENANT) and the app's client id and secret (--graph-app-client-id and \
                --graph-app-client-secret, or --graph-client-id and --graph-client-secret)
                """)
        }
        if let existing = try await directory.connectionId(provider: provider, address: address),
           try await !directory.children(of: existing).isEmpty {
            throw APIError(.conflict, code: "has_shared_mailboxes", message: """
                this mailbox lends its token to shared mailboxes: connect each of them with "auth": "app" first
                """)
        }
        let (connection, reconnected) = try await connector.connect(provider: provider, address: address, credentials: nil, auth: .app)
        return try Response.json(try await reader.requireView(connection.id), status: reconnected ? .ok : .created)
    }

    private func show(_ id: String) async throws -> Response {
        let view = try await reader.requireView(id)
        return try Response.json(view)
    }

    private func disconnect(_ id: String) async throws -> Response {
        guard try await directory.disconnect(id) else { throw APIError.connectionNotFound(id) }
        logger.info("mailbox disconnected; messages kept", metadata: ["connection": "\(id)"])
        return try await show(id)
    }

    private func start(_ id: String, _ request: Request) async throws -> Response {
        let connection = try await reader.require(id)
        let json = try await body.json(of: request)
        try json.allowOnly(["range"])
        let range = try json.range()
        try Self.requireConnected(connection, toDo: "start a backfill")
        switch try await scheduler.startBackfill(connectionId: id, range: range) {
        case .created(let backfillId):
            try await scheduler.nudge([id])
            logger.info("backfill started", metadata: ["connection": "\(id)", "backfill": "\(backfillId)", "range": "\(range.rawValue)"])
        case .skipped:
            logger.info("history skipped", metadata: ["connection": "\(id)"])
        case .alreadyRunning(let state):
            throw APIError(.conflict, code: "backfill_unfinished",
                           message: "a backfill is already \(state.phrase); reset it to change the range, or cancel it first")
        }
        return try await show(id)
    }

    private func apply(_ command: BackfillCommand, to id: String) async throws -> Response {
        let connection = try await reader.require(id)
        if command == .resume || command == .retry { try Self.requireConnected(connection, toDo: command.rawValue) }
        switch try await scheduler.apply(command, connectionId: id) {
        case .moved(let state):
            if state.isRunnable { try await scheduler.nudge([id]) }
            logger.info("backfill command applied", metadata: ["connection": "\(id)", "command": "\(command.rawValue)", "state": "\(state.rawValue)"])
            if let view = try await reader.view(id) { return try Response.json(view) }
        case .unchanged:
            break
        case .refused(_, let reason):
            throw APIError(.conflict, code: "invalid_state", message: reason)
        case .missing:
            throw APIError(.conflict, code: "no_backfill", message: "cannot \(command.rawValue): the connection has no backfill; start one first")
        }
        return try await show(id)
    }

    private func reset(_ id: String, _ request: Request) async throws -> Response {
        try Self.requireConnected(try await reader.require(id), toDo: "reset the backfill")
        let json = try await body.json(of: request)
        try json.allowOnly(["range"])
        let range = try json.range()
        guard range != .skip else {
            throw APIError(.badRequest, code: "unknown_range", message: "reset needs a range to pull: 30d, 90d, 12m or all")
        }
        if case .created(let backfillId) = try await scheduler.resetBackfill(connectionId: id, range: range) {
            try await scheduler.nudge([id])
            logger.notice("backfill reset", metadata: ["connection": "\(id)", "backfill": "\(backfillId)", "range": "\(range.rawValue)"])
        }
        return try await show(id)
    }

    private func nudge(_ id: String) async throws -> Response {
        try Self.requireConnected(try await reader.require(id), toDo: "nudge it")
        try await scheduler.nudge([id])
        logger.info("connection nudged", metadata: ["connection": "\(id)"])
        return try await show(id)
    }

    private func messages(_ id: String, _ request: Request) async throws -> Response {
        _ = try await reader.require(id)
        let query = request.uri.queryParameters
        let limit = try Self.limit(query, default: 50, maximum: 500)
        let after = try query["after"].map { text throws(APIError) in try MessageCursorCoding.decode(String(text)) }
        let page = try await store.messages(connectionId: id, limit: limit, after: after)
        return try Response.json(MessagePageView(messages: page.messages, next: page.next.map(MessageCursorCoding.encode)))
    }

    /// Work needs the mailbox's tokens: a disconnected mailbox must be reconnected first (409).
    static func requireConnected(_ connection: Connection, toDo action: String) throws(APIError) {
        guard connection.health != .disconnected else {
            throw APIError(.conflict, code: "disconnected", message: "the mailbox is disconnected; reconnect it before you \(action)")
        }
    }

    /// One @ with something before it, a dot after it, at most 320 code points, no white space or control
    /// characters; the provider is the judge of the rest. Counted in code points, as the OpenAPI pattern is
    /// (a combining mark or an emoji modifier after the @ merges with it into one `Character`).
    static func isPlausibleAddress(_ address: String) -> Bool {
        let scalars = address.unicodeScalars
        guard scalars.count <= 320, let at = scalars.firstIndex(of: "@"), at != scalars.startIndex else { return false }
        let domain = scalars[scalars.index(after: at)...]
        return !domain.contains("@") && domain.contains(".")
            && !scalars.contains(where: { $0.properties.isWhitespace || $0 == "\u{FEFF}" || $0.properties.generalCategory == .control })
    }
}

/// `GET /v1/connections/{id}/messages`.
public struct MessagePageView: Codable, Sendable {
    public var messages: [StoredMessage]
    public var next: String?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messages, forKey: .messages)
        try container.encode(next, forKey: .next)  // null on the last page
    }
}

extension BackfillState {
    /// "waiting on parent" for messages.
    var phrase: String { rawValue.replacingOccurrences(of: "_", with: " ") }
}
