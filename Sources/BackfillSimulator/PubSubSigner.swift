import Crypto
import CryptoExtras
import Foundation

/// Pub/Sub's side of push authentication: Google's signing key, published as a JWKS at
/// `/google/oauth2/v3/certs`, and the OIDC token (RS256) Pub/Sub attaches to each push as
/// `Authorization: Bearer` (issuer Google, audience the subscription's, email the service account it pushes as).
///
/// The key is generated on first use (an RSA key takes a moment, and most simulator runs push nothing).
/// `rotate()` makes a new key and keeps publishing the previous one, as Google does. A foreign key, never
/// published, signs forgeries for tests. Its own lock, so signing never holds the world's.
final class PubSubSigner: @unchecked Sendable {
    /// The service account the simulated push subscription pushes as.
    static let serviceAccount = "gmail-push@backfill-sim.iam.gserviceaccount.com"
    /// The service account's unique id, which Google writes in `sub` and `azp`.
    static let serviceAccountId = "108353414251104560813"
    static let issuer = "https://accounts.google.com"
    /// How long a push token lasts, as Pub/Sub's do.
    static let tokenLifetime: TimeInterval = 3600

    /// Which key signs a token.
    enum Signer: String {
        /// The current published key.
        case published
        /// A key Google never published: a forgery.
        case foreign
    }

    private struct SigningKey {
        let kid: String
        let key: _RSA.Signing.PrivateKey

        init() throws {
            key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let modulus = try key.publicKey.getKeyPrimitives().modulus
            kid = SHA256.hash(data: modulus).prefix(20).map { String(format: "%02x", $0) }.joined()
        }

        var jwk: [String: String] {
            let primitives = try? key.publicKey.getKeyPrimitives()
            return [
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                "n": PubSubSigner.base64URL(primitives?.modulus ?? Data()),
                "e": PubSubSigner.base64URL(primitives?.publicExponent ?? Data()),
            ]
        }
    }

    private let lock = NSLock()
    private var current: SigningKey?
    private var previous: SigningKey?
    private var foreign: SigningKey?
    private var fetches = 0

    /// The JWKS (current and previous key), as Google serves it; counts the fetch.
    func certs() -> SimResponse {
        lock.lock()
        defer { lock.unlock() }
        fetches += 1
        do {
            let keys = [try currentKey()] + (previous.map { [$0] } ?? [])
            return .json(200, object: ["keys": keys.map(\.jwk)],
                         headers: [("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")])
        } catch {
            return .json(500, object: ["error": "no signing key: \(error)"])
        }
    }

    /// A new current key; the old one stays published. Returns the new key's id.
    func rotate() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        previous = try currentKey()
        let key = try SigningKey()
        current = key
        return key.kid
    }

    /// The current key's id and how often the JWKS was fetched.
    func status() throws -> [String: Any] {
        lock.lock()
        defer { lock.unlock() }
        return ["kid": try currentKey().kid, "fetches": fetches, "serviceAccount": Self.serviceAccount]
    }

    /// A push token with these claims. `kid` overrides the header's key id (a foreign key claims the
    /// published key's id unless told otherwise).
    func token(audience: String, email: String = serviceAccount, emailVerified: Bool = true, issuer: String = issuer,
               issuedAt: Date = Date(), expiresAt: Date? = nil, signer: Signer = .published, kid: String? = nil) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let published = try currentKey()
        let key: SigningKey
        switch signer {
        case .published:
            key = published
        case .foreign:
            if foreign == nil { foreign = try SigningKey() }
            key = foreign ?? published
        }
        let header: [String: Any] = ["alg": "RS256", "typ": "JWT", "kid": kid ?? published.kid]
        let iat = Int(issuedAt.timeIntervalSince1970)
        let exp = expiresAt.map { Int($0.timeIntervalSince1970) } ?? iat + Int(Self.tokenLifetime)
        let claims: [String: Any] = [
            "iss": issuer, "aud": audience, "azp": Self.serviceAccountId, "sub": Self.serviceAccountId,
            "email": email, "email_verified": emailVerified, "iat": iat, "exp": exp,
        ]
        let signingInput = try Self.base64URL(JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
            + "." + Self.base64URL(JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signature = try key.key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Self.base64URL(signature.rawRepresentation)
    }

    /// Under the lock.
    private func currentKey() throws -> SigningKey {
        if let current { return current }
        let key = try SigningKey()
        current = key
        return key
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
