/// Why a support command failed, with its exit code.
struct CLIFailure: Error {
    static let refused: Int32 = 1
    static let usage: Int32 = 2
    static let unreachable: Int32 = 3

    var exitCode: Int32
    var message: String

    static func refused(_ message: String) -> CLIFailure { CLIFailure(exitCode: refused, message: message) }
    static func unreachable(_ message: String) -> CLIFailure { CLIFailure(exitCode: unreachable, message: message) }
}
