import Foundation

/// A loopback port that completes TCP handshakes (the kernel's backlog) but never reads or answers: a
/// Redis that hangs.
public final class SilentListener: Sendable {
    public let port: Int
    private let socket: Int32

    public init() throws {
        (socket, port) = try Self.loopbackSocket(listening: true)
    }

    public func close() {
        Foundation.close(socket)
    }

    /// A TCP socket bound to a free loopback port (listening when asked), and the port.
    static func loopbackSocket(listening: Bool) throws -> (socket: Int32, port: Int) {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestSetupError("cannot create a socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound, !listening || listen(socket, 64) == 0 else {
            Foundation.close(socket)
            throw TestSetupError("cannot bind a loopback port")
        }
        return (socket, Int(UInt16(bigEndian: address.sin_port)))
    }
}
