import BackfillCore
import BackfillHTTP
import Foundation

/// The provider side of the authorization-code flow with PKCE: where to send the browser, how to trade
/// the returned code for tokens, and which mailbox the tokens belong to.
public struct OAuthAuthorization: Sendable {
    /// What Backfill asks Microsoft for: mail of the user and of shared mailboxes, and a refresh token.
    public static let graphScopes = "offline_access Mail.Read Mail.Read.Shared"
    public static let gmailScopes = "https://www.googleapis.com/auth/gmail.readonly"

    let endpoints: ProviderEndpoints
    let http: HTTPClient

    public init(endpoints: ProviderEndpoints, http: HTTPClient) {
        self.endpoints = endpoints
        self.http = http
    }

    /// The consent page's URL for `provider`, carrying `state` and the PKCE challenge.
    public func authorizeURL(_ provider: ProviderKind, redirectURI: String, state: String, pkce: PKCE) -> String {
        var query = [
            ("client_id", client(provider).clientId), ("response_type", "code"), ("redirect_uri", redirectURI),
            ("state", state), ("code_challenge", pkce.challenge), ("code_challenge_method", PKCE.method),
        ]
        switch provider {
        case .graph:
            query += [("scope", Self.graphScopes), ("response_mode", "query")]
        case .gmail:
            // Offline access with forced consent: Google hands out a refresh token only on consent.
            query += [("scope", Self.gmailScopes), ("access_type", "offline"), ("prompt", "consent")]
        }
        let base = provider == .graph ? endpoints.msAuthorizeURL : endpoints.googleAuthorizeURL
        return base + "?" + FormEncoding.encode(query)
    }

    /// Trades an authorization code for tokens, then asks the provider whose mailbox they open.
    public func complete(
        _ provider: ProviderKind, code: String, redirectURI: String, pkce: PKCE, now: Date = Date()
    ) async throws(OAuthAuthorizationError) -> (address: String, credentials: OAuthCredentials) {
        let credentials = try await exchange(provider, code: code, redirectURI: redirectURI, pkce: pkce, now: now)
        return (try await mailboxAddress(provider, accessToken: credentials.accessToken), credentials)
    }

    func exchange(
        _ provider: ProviderKind, code: String, redirectURI: String, pkce: PKCE, now: Date
    ) async throws(OAuthAuthorizationError) -> OAuthCredentials {
        let client = client(provider)
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("client_id", client.clientId), ("code_verifier", pkce.verifier),
        ]
        if !client.clientSecret.isEmpty { form.append(("client_secret", client.clientSecret)) }
        if provider == .graph { form.append(("scope", Self.graphScopes)) }
        let response = try await send(HTTPRequest(
            method: "POST", url: client.tokenURL,
            headers: ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"],
            body: Data(FormEncoding.encode(form).utf8)
        ), issuer: client.issuer)
        guard (200..<300).contains(response.status) else {
            let code = (try? JSONDecoder().decode(OAuthTokenError.self, from: response.body))?.error ?? "HTTP \(response.status)"
            throw OAuthAuthorizationError("\(client.issuer) refused the sign-in (\(code.prefix(60))); try connecting again")
        }
        guard let grant = try? JSONDecoder().decode(OAuthTokenGrant.self, from: response.body), !grant.access_token.isEmpty,
              let refresh = grant.refresh_token, !refresh.isEmpty
        else {
            throw OAuthAuthorizationError("\(client.issuer) answered the sign-in without an access and a refresh token")
        }
        return OAuthCredentials(
            accessToken: grant.access_token, refreshToken: refresh,
            expiresAt: grant.expires_in.map { now.addingTimeInterval(TimeInterval($0)) }
        )
    }

    /// Graph: `GET /me` → `mail`, else `userPrincipalName`. Gmail: the profile's `emailAddress`.
    func mailboxAddress(_ provider: ProviderKind, accessToken: String) async throws(OAuthAuthorizationError) -> String {
        let url = provider == .graph ? endpoints.graphBaseURL + "/me?$select=mail,userPrincipalName"
            : endpoints.gmailBaseURL + "/gmail/v1/users/me/profile"
        let issuer = client(provider).issuer
        let response = try await send(HTTPRequest(
            url: url, headers: ["Authorization": "Bearer \(accessToken)", "Accept": "application/json"]
        ), issuer: issuer)
        let profile = try? JSONDecoder().decode(Profile.self, from: response.body)
        guard (200..<300).contains(response.status),
              let address = [profile?.mail, profile?.userPrincipalName, profile?.emailAddress].compactMap({ $0 }).first(where: { !$0.isEmpty })
        else {
            throw OAuthAuthorizationError("\(issuer) did not say which mailbox was signed in (HTTP \(response.status))")
        }
        return address
    }

    private func send(_ request: HTTPRequest, issuer: String) async throws(OAuthAuthorizationError) -> HTTPResponse {
        do {
            return try await http.send(request)
        } catch let error as HTTPClientError {
            throw OAuthAuthorizationError("\(issuer) could not be reached (\(error.code))")
        } catch {
            throw OAuthAuthorizationError("\(issuer) could not be reached")
        }
    }

    private func client(_ provider: ProviderKind) -> OAuthClient {
        provider == .graph ? .microsoft(endpoints) : .google(endpoints)
    }

    /// The fields of Graph's user and Gmail's profile that name the mailbox.
    private struct Profile: Decodable {
        var mail: String?
        var userPrincipalName: String?
        var emailAddress: String?
    }
}

/// Why a sign-in could not be completed. The message is safe to show: it never holds a token or code.
public struct OAuthAuthorizationError: Error, Sendable, CustomStringConvertible {
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
