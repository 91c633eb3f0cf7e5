import BackfillHTTP
import Foundation
import JWTKit
import Logging

/// Checks the OIDC token Pub/Sub attaches to a push: a JWT signed (RS256) by one of Google's published keys,
/// issued by Google to the configured service account (`email`, verified) for the configured audience, and
/// current (`exp`, `iat`, with a small leeway).
///
/// The keys come from the certs URL as a JWKS and are kept for the answer's `Cache-Control: max-age` (an hour
/// without one). A token naming a key not in the set fetches the set again (Google rotates its keys), at most
/// once per `minimumRefreshInterval`, so forged key ids cannot make the service hammer Google. Concurrent
/// verifications share one fetch. When a refresh fails, the keys already held stay in use.
actor GmailPushVerifier {
    /// Why a token was refused, worded for the 401's message and the log (never quoting the token).
    struct Rejection: Error, Sendable, Equatable {
        let reason: String
    }

    /// The keys could not be fetched, so nothing can be verified yet.
    struct KeysUnavailable: Error, Sendable {
        let reason: String
    }

    /// The claims of a Pub/Sub push token this verifier reads. Their checks need the settings and say which
    /// failed, so they run in `check`, not in `verify(using:)`.
    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var email: String?
        var emailVerified: BoolClaim?
        var exp: ExpirationClaim
        var iat: IssuedAtClaim

        enum CodingKeys: String, CodingKey {
            case iss, aud, email, exp, iat
            case emailVerified = "email_verified"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    private let settings: GmailPushAuthentication.OIDC
    private let http: HTTPClient
    private let logger: Logger
    private let clock = ContinuousClock()

    private var keys = JWTKeyCollection()
    private var keyIds: Set<String> = []
    /// When the keys held stop being used without a fetch; nil before the first successful fetch.
    private var keysFreshUntil: ContinuousClock.Instant?
    /// The last fetch, successful or not: the rate limit counts from it.
    private var lastFetch: ContinuousClock.Instant?
    private var inFlight: Task<Void, Never>?
    private var lastFetchError: String?

    /// `http` fetches the keys; nil: a client of its own.
    init(settings: GmailPushAuthentication.OIDC, http: HTTPClient? = nil, logger: Logger) {
        self.settings = settings
        self.http = http ?? HTTPClient(logger: logger)
        self.logger = logger
    }

    /// The verified claims of `token`; throws `Rejection` for a token that must be refused and
    /// `KeysUnavailable` when no keys could be fetched to decide.
    @discardableResult
    func verify(_ token: String) async throws -> Claims {
        let header = try Self.header(of: token)
        guard header.alg == "RS256" else { throw Rejection(reason: "it is not signed with RS256") }
        guard let kid = header.kid, !kid.isEmpty else { throw Rejection(reason: "its header names no signing key (kid)") }
        try await ensureKeys(for: kid)
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw Rejection(reason: "its signature does not verify against Google's key '\(kid.prefix(64))'")
        } catch {
            throw Rejection(reason: "its claims cannot be read (iss, aud, email, exp and iat are required)")
        }
        try check(claims, now: Date())
        return claims
    }

    /// The claims' checks, in the order their failures are most telling.
    func check(_ claims: Claims, now: Date) throws(Rejection) {
        let leeway = TimeInterval(settings.leeway.components.seconds)
        guard GmailPushAuthentication.OIDC.issuers.contains(claims.iss.value) else {
            throw Rejection(reason: "it is not issued by Google (iss)")
        }
        guard claims.aud.value.contains(settings.audience) else {
            throw Rejection(reason: "its audience (aud) is not the one configured for this service")
        }
        guard let email = claims.email, email.lowercased() == settings.serviceAccount.lowercased() else {
            throw Rejection(reason: "it is not issued to the configured push service account (email)")
        }
        guard claims.emailVerified?.value == true else {
            throw Rejection(reason: "its service account email is not verified (email_verified)")
        }
        guard claims.exp.value.addingTimeInterval(leeway) > now else {
            throw Rejection(reason: "it has expired (exp)")
        }
        guard claims.iat.value.addingTimeInterval(-leeway) <= now else {
            throw Rejection(reason: "it is issued in the future (iat)")
        }
    }

    // MARK: Keys

    /// Fetches the keys when none are held, when they are past their lifetime, or when `kid` is not among
    /// them, within the rate limit; then requires `kid` to be known.
    private func ensureKeys(for kid: String) async throws {
        let now = clock.now
        let stale = keysFreshUntil.map { now >= $0 } ?? true
        if stale || !keyIds.contains(kid), mayFetch(at: now) {
            await refresh()
        }
        guard keysFreshUntil != nil else {
            throw KeysUnavailable(reason: lastFetchError ?? "Google's signing keys have not been fetched yet")
        }
        guard keyIds.contains(kid) else {
            throw Rejection(reason: "it is signed with a key Google does not publish (kid '\(kid.prefix(64))')")
        }
    }

    private func mayFetch(at now: ContinuousClock.Instant) -> Bool {
        inFlight != nil || lastFetch.map { now - $0 >= settings.minimumRefreshInterval } ?? true
    }

    /// One fetch of the keys, shared by every verification waiting for it.
    private func refresh() async {
        if let inFlight {
            await inFlight.value
            return
        }
        let task = Task { await self.fetchKeys() }
        inFlight = task
        await task.value
        inFlight = nil
    }

    private func fetchKeys() async {
        lastFetch = clock.now
        do {
            let response = try await http.send(HTTPRequest(
                url: settings.certsURL, headers: ["Accept": "application/json"], connectTimeout: .seconds(5),
                totalTimeout: .seconds(10)
            ))
            guard response.status == 200 else {
                throw KeysUnavailable(reason: "the certs URL answered HTTP \(response.status)")
            }
            let jwks = try JSONDecoder().decode(JWKS.self, from: response.body)
            let collection = JWTKeyCollection()
            var ids: Set<String> = []
            for jwk in jwks.keys where jwk.keyType == .rsa {
                guard let kid = jwk.keyIdentifier?.string else { continue }
                do {
                    try await collection.add(jwk: jwk)
                    ids.insert(kid)
                } catch {
                    logger.warning("a Google signing key could not be read; skipped", metadata: ["kid": "\(kid.prefix(64))"])
                }
            }
            guard !ids.isEmpty else { throw KeysUnavailable(reason: "the certs URL published no RSA keys") }
            keys = collection
            keyIds = ids
            let lifetime = Self.maxAge(response.headers["Cache-Control"]).map { Duration.seconds($0) } ?? settings.defaultKeyLifetime
            keysFreshUntil = clock.now + max(lifetime, settings.minimumRefreshInterval)
            lastFetchError = nil
            logger.info("fetched Google's signing keys for Gmail pushes", metadata: ["keys": "\(ids.count)"])
        } catch {
            let reason = (error as? KeysUnavailable)?.reason ?? "fetching \(settings.certsURL) failed: \(error)"
            lastFetchError = "Google's signing keys could not be fetched: \(reason)"
            logger.warning("could not fetch Google's signing keys for Gmail pushes", metadata: ["reason": "\(reason)"])
        }
    }

    /// `max-age` of a Cache-Control header, in seconds.
    static func maxAge(_ cacheControl: String?) -> Int? {
        for directive in (cacheControl ?? "").split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]), seconds >= 0 {
                return seconds
            }
        }
        return nil
    }

    /// The JOSE header, read before the signature is checked to pick the key and refuse other algorithms.
    private static func header(of token: String) throws(Rejection) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64Encoded: WebhookRoutes.paddedBase64(String(parts[0]))),
              let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw Rejection(reason: "it is not a JWT") }
        return header
    }
}
