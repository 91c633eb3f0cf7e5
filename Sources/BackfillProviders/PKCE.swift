import Crypto
import Foundation

/// A proof key for one authorization-code round trip (RFC 7636): the verifier stays on the server, the
/// S256 challenge goes to the consent page, and the token endpoint checks that the two belong together.
public struct PKCE: Sendable, Equatable {
    public let verifier: String
    public var challenge: String { Self.challenge(for: verifier) }
    public static let method = "S256"

    /// A fresh verifier of 43 characters from 32 random bytes (the RFC's recommended length).
    public static func random() -> PKCE {
        PKCE(verifier: randomToken(bytes: 32))
    }

    public init(verifier: String) {
        self.verifier = verifier
    }

    public static func challenge(for verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    /// Unguessable text safe in URLs and Redis keys: `bytes` random bytes, base64url without padding.
    public static func randomToken(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL(Data((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }))
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
