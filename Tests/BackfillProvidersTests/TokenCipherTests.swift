import BackfillCore
import BackfillProviders
import Foundation
import Testing

@Suite("TokenCipher")
struct TokenCipherTests {
    let credentials = OAuthCredentials(
        accessToken: "access-secret-value", refreshToken: "refresh-secret-value",
        expiresAt: Date(timeIntervalSince1970: 1_800_000_000)
    )

    @Test("encrypted credentials decrypt to the same credentials and do not show the tokens")
    func roundTrip() throws {
        let cipher = try TokenCipher(secret: "correct horse battery staple")
        let stored = try cipher.encrypt(credentials)
        #expect(!stored.contains("secret-value"))
        #expect(stored.hasPrefix("v1."))
        #expect(try cipher.decryptCredentials(stored) == credentials)
    }

    @Test("encrypting twice gives different texts (a fresh nonce each time)")
    func freshNonce() throws {
        let cipher = try TokenCipher(secret: "k")
        #expect(try cipher.encrypt(credentials) != cipher.encrypt(credentials))
    }

    @Test("decrypting with another secret fails as an authentication failure")
    func wrongKey() throws {
        let stored = try TokenCipher(secret: "one secret").encrypt(credentials)
        #expect(throws: TokenCipher.Error.authenticationFailed) {
            try TokenCipher(secret: "another secret").decryptCredentials(stored)
        }
    }

    @Test("a tampered ciphertext fails as an authentication failure")
    func tampered() throws {
        let cipher = try TokenCipher(secret: "k")
        let stored = try cipher.encrypt(credentials)
        var bytes = try #require(Data(base64Encoded: String(stored.dropFirst(3))))
        bytes[bytes.count / 2] ^= 0x01
        #expect(throws: TokenCipher.Error.authenticationFailed) {
            try cipher.decrypt("v1." + bytes.base64EncodedString())
        }
    }

    @Test("text that is not in the stored format fails as malformed")
    func malformed() throws {
        let cipher = try TokenCipher(secret: "k")
        #expect(throws: TokenCipher.Error.malformed) { try cipher.decrypt("plain-token") }
        #expect(throws: TokenCipher.Error.malformed) { try cipher.decrypt("v1.!!!") }
        #expect(throws: TokenCipher.Error.malformed) { try cipher.decrypt("v1.AAAA") }
    }

    @Test("an empty secret is refused")
    func emptySecret() {
        #expect(throws: TokenCipher.Error.emptySecret) { try TokenCipher(secret: "") }
    }
}
