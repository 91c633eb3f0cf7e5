/// The fields of an entry of the lifecycle events' outbox, the stream `P:events`: the one list of their names.
/// The scripts write them by these names (`emit` in the prelude); `EventRelay` reads them through this type.
enum BackfillEventField: String, CaseIterable, Sendable {
    case kind, connectionId, backfillId
    /// When the transition was made (ms since 1970, Redis's clock).
    case at
    /// `completed`: how many messages the backfill pulled.
    case pulled
    /// `failed`: the failure's code.
    case errorCode
}
