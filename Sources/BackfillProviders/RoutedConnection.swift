import BackfillCore

/// The connection `ProviderRouter` read to dispatch the call in progress (a task-local, so the structured calls
/// under it see it): the provider takes it from here instead of reading the same hash from Redis again.
enum RoutedConnection {
    @TaskLocal static var current: Connection?

    /// The connection `id`: the routed one when it is that, else read from the directory.
    static func connection(_ id: String, in directory: any ConnectionDirectory) async throws -> Connection? {
        if let current, current.id == id { return current }
        return try await directory.connection(id)
    }
}
