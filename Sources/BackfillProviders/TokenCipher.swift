import BackfillCore
import Crypto
import Foundation

/// Encrypts OAuth credentials for storage at rest (AES-256-GCM). The key is derived from the
/// `BACKFILL_SECRET_KEY` secret with HKDF-SHA256, so any secret length works. The stored form is
/// "v1." + base64(nonce ‖ ciphertext ‖ tag); decrypting with another key or a tampered value fails with
/// `TokenCipher.Error` rather than returning garbage.
public struct TokenCipher: Sendable {
    public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// The secret is empty.
        case emptySecret
        /// The value is not in the stored format.
        case malformed
        /// Authentication failed: another key, or the value was altered.
        case authenticationFailed

        public var description: String {
            switch self {
            case .emptySecret: "the token encryption secret is empty"
            case .malformed: "the encrypted credentials are not in the expected format"
            case .authenticationFailed: "the encrypted credentials do not match the key (wrong secret or altered value)"
            }
        }
    }

    private static let prefix = "v1."
    /// The derived key's bytes (swift-crypto's `SymmetricKey` is not `Sendable` here).
    private let keyBytes: Data

    public init(secret: String) throws {
        guard !secret.isEmpty else { throw Error.emptySecret }
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
            salt: Data("backfill.token-cipher".utf8),
            info: Data("oauth-credentials v1".utf8),
            outputByteCount: 32
        )
        keyBytes = key.withUnsafeBytes { Data($0) }
    }

    public func encrypt(_ plaintext: Data) throws -> String {
        let sealed = try AES.GCM.seal(plaintext, using: SymmetricKey(data: keyBytes))
        guard let combined = sealed.combined else { throw Error.malformed }
        return Self.prefix + combined.base64EncodedString()
    }

    public func decrypt(_ stored: String) throws -> Data {
        guard stored.hasPrefix(Self.prefix), let combined = Data(base64Encoded: String(stored.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: combined)
        else {
            throw Error.malformed
        }
        do {
            return try AES.GCM.open(box, using: SymmetricKey(data: keyBytes))
        } catch {
            throw Error.authenticationFailed
        }
    }

    public func encrypt(_ credentials: OAuthCredentials) throws -> String {
        try encrypt(JSONEncoder().encode(credentials))
    }

    public func decryptCredentials(_ stored: String) throws -> OAuthCredentials {
        let data = try decrypt(stored)
        guard let credentials = try? JSONDecoder().decode(OAuthCredentials.self, from: data) else { throw Error.malformed }
        return credentials
    }
}

/// Storage seals credentials with this cipher (the Redis connection directory takes any sealer).
extension TokenCipher: CredentialSealer {
    public func seal(_ plaintext: Data) throws -> String { try encrypt(plaintext) }
    public func open(_ sealed: String) throws -> Data { try decrypt(sealed) }
}
