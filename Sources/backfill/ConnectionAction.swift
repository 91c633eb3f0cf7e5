import BackfillServer

/// What the one-shot support commands share: post an action, then print the connection's new state.
enum ConnectionAction {
    static func perform(_ path: String, on id: String, service: ServiceOptions, done: String, body: [String: String]? = nil) async throws {
        let connection = try await service.client().post(id, path, body: body)
        let state = connection.backfill.map { ProgressText.line($0, provider: connection.provider) } ?? "no backfill"
        print(TerminalText.escaped("\(connection.id): \(done) — \(connection.health.rawValue); \(state)"))
    }
}
