/// Log metadata keys, in one place. Values never hold tokens, addresses or message content.
enum LogKey {
    static let connection = "connection"
    static let backfill = "backfill"
    static let epoch = "epoch"
    static let instance = "instance"
    static let error = "error"
    static let errorCode = "error_code"
    static let delay = "delay"
    static let tick = "tick"
}
