import Crypto
import Foundation

/// The Microsoft identity platform and Google OAuth endpoints (docs/providers.md, Tokens): token grants,
/// refresh-token rotation (Microsoft), revocation, client credentials (Microsoft app-only tokens), and consent
/// pages for the authorization-code flow.
extension SimulatorWorld {
    func handleToken(_ request: SimRequest, provider: TokenRegistry.Provider) -> SimResponse {
        let form = request.formFields
        if provider == .microsoft, form["grant_type"] == "client_credentials" {
            return clientCredentials(request, form: form)
        }
        let expectedClient = provider == .microsoft ? scenario.graphClientID : scenario.googleClientID
        let expectedSecret = provider == .microsoft ? scenario.graphClientSecret : scenario.googleClientSecret
        guard form["client_id"] == expectedClient,
              expectedSecret == nil || form["client_secret"] == expectedSecret || form["code_verifier"] != nil
        else {
            return tokenError(provider, "invalid_client", code: 7_000_215,
                              text: provider == .microsoft ? "Invalid client secret provided." : "The OAuth client was not found.")
        }
        let lifetime = TimeInterval(knobs.accessTokenLifetimeSeconds)
        switch form["grant_type"] {
        case "refresh_token":
            guard let presented = form["refresh_token"], let grant = tokens.refresh[presented],
                  grant.provider == provider,
                  grant.retiredAt.map({ now.timeIntervalSince($0) < knobs.refreshTokenGraceSeconds }) ?? true
            else {
                return tokenError(provider, "invalid_grant", code: 9_002_313,
                                  text: provider == .microsoft ? "Invalid request. Request is malformed or invalid." : "Bad Request")
            }
            guard !grant.revoked else {
                return tokenError(provider, "invalid_grant", code: 50_173,
                                  text: provider == .microsoft
                                      ? "The provided grant has expired due to it being revoked, a fresh auth token is needed."
                                      : "Token has been expired or revoked.")
            }
            let access = tokens.issueAccess(provider: provider, principal: grant.principal, lifetime: lifetime, now: now)
            var object: [String: Any] = ["token_type": "Bearer", "expires_in": knobs.accessTokenLifetimeSeconds,
                                         "access_token": access, "scope": form["scope"] ?? defaultScope(provider)]
            if provider == .microsoft {
                tokens.retireRefresh(presented, now: now)
                object["refresh_token"] = tokens.issueRefresh(provider: provider, principal: grant.principal)
                object["ext_expires_in"] = knobs.accessTokenLifetimeSeconds
            }
            return .json(200, object: object)
        case "authorization_code":
            guard let code = form["code"], let grant = tokens.codes.removeValue(forKey: code), grant.provider == provider,
                  grant.expires > now, grant.redirectURI == form["redirect_uri"]
            else {
                return tokenError(provider, "invalid_grant", code: 70_008,
                                  text: "The provided authorization code or refresh token has expired.")
            }
            if let challenge = grant.codeChallenge {
                guard let verifier = form["code_verifier"],
                      IdentifierCodec.base64URL(Array(SHA256.hash(data: Data(verifier.utf8))), padded: false) == challenge
                else {
                    return tokenError(provider, "invalid_grant", code: 501_481,
                                      text: "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
                }
            }
            let access = tokens.issueAccess(provider: provider, principal: grant.principal, lifetime: lifetime, now: now)
            let refresh = tokens.issueRefresh(provider: provider, principal: grant.principal)
            return .json(200, object: ["token_type": "Bearer", "expires_in": knobs.accessTokenLifetimeSeconds,
                                       "access_token": access, "refresh_token": refresh,
                                       "scope": form["scope"] ?? defaultScope(provider)])
        default:
            return tokenError(provider, "unsupported_grant_type", code: 70_003, text: "The grant type is not supported.")
        }
    }

    /// Client credentials (docs/providers.md, Graph tokens, app-only): only in the scenario's own tenant (the path's
    /// `/{tenant}/`; `common` and other tenants are refused), with the scenario's client id and a client secret
    /// (the scenario's when it names one), for the `.default` scope. The token carries the app's consented
    /// application permissions (`roles`: `Mail.Read`, none once consent was revoked); there is no refresh token.
    private func clientCredentials(_ request: SimRequest, form: [String: String]) -> SimResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        let tenant = segments.count >= 2 ? segments[1] : ""
        guard tenant.lowercased() == scenario.tenantID.lowercased() else {
            return tokenError(.microsoft, "invalid_request", code: 90_002,
                              text: "Tenant '\(tenant.prefix(64))' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
        }
        guard form["client_id"] == scenario.graphClientID else {
            return tokenError(.microsoft, "unauthorized_client", code: 700_016,
                              text: "Application with identifier '\(form["client_id"]?.prefix(64) ?? "")' was not found in the directory '\(tenant)'.")
        }
        guard let secret = form["client_secret"], !secret.isEmpty else {
            return tokenError(.microsoft, "invalid_client", code: 7_000_218,
                              text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }
        guard scenario.graphClientSecret == nil || secret == scenario.graphClientSecret else {
            return tokenError(.microsoft, "invalid_client", code: 7_000_215, text: "Invalid client secret provided.")
        }
        let scope = form["scope"] ?? ""
        guard ["https://graph.microsoft.com/.default", "00000003-0000-0000-c000-000000000000/.default"].contains(scope) else {
            return tokenError(.microsoft, "invalid_scope", code: 1_002_012,
                              text: "The provided value for scope \(scope.prefix(80)) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
        }
        guard !appDisabled else {
            return tokenError(.microsoft, "unauthorized_client", code: 7_000_112, text: "Application is disabled.")
        }
        let access = issueAppToken()
        appTokenGrants += 1
        return .json(200, object: ["token_type": "Bearer", "expires_in": knobs.accessTokenLifetimeSeconds,
                                   "ext_expires_in": knobs.accessTokenLifetimeSeconds, "access_token": access])
    }

    /// An app-only token with the application permissions consented now.
    func issueAppToken() -> String {
        tokens.issueAccess(provider: .microsoft, principal: nil, lifetime: TimeInterval(knobs.accessTokenLifetimeSeconds), now: now,
                           roles: appConsentRevoked ? [] : [Self.mailReadRole])
    }

    private func defaultScope(_ provider: TokenRegistry.Provider) -> String {
        provider == .microsoft ? "https://graph.microsoft.com/Mail.Read offline_access"
            : "https://www.googleapis.com/auth/gmail.readonly"
    }

    private func tokenError(_ provider: TokenRegistry.Provider, _ error: String, code: Int, text: String) -> SimResponse {
        if provider == .google { return .json(400, object: ["error": error, "error_description": text]) }
        return .json(error == "invalid_client" ? 401 : 400, object: [
            "error": error, "error_codes": [code], "timestamp": ISOTime.format(now),
            "error_description": "AADSTS\(code): \(text)\r\nTrace ID: \(UUID().uuidString.lowercased())",
            "error_uri": "https://login.microsoftonline.com/error?code=\(code)",
        ])
    }

    /// The consent page: one "Allow" button per personal mailbox of the provider.
    func authorizePage(_ request: SimRequest, provider: TokenRegistry.Provider, allowPath: String) -> SimResponse {
        guard let redirect = request.parameter("redirect_uri"), !redirect.isEmpty else {
            return .text(400, "redirect_uri is required")
        }
        let isGraph = provider == .microsoft
        let hint = request.parameter("login_hint")?.lowercased()
        let accounts = mailboxes.filter { mailbox in
            mailbox.isGraph == isGraph && mailbox.spec.kind == .personal
                && (hint == nil || mailbox.address.lowercased() == hint)
        }
        let carried = request.query.map { "<input type=\"hidden\" name=\"\(escapeHTML($0.name))\" value=\"\(escapeHTML($0.value))\">" }
            .joined()
        let buttons = accounts.map { mailbox in
            "<form method=\"get\" action=\"\(allowPath)\">\(carried)<input type=\"hidden\" name=\"account\" value=\"\(escapeHTML(mailbox.address))\"><p>\(escapeHTML(mailbox.address))</p><button type=\"submit\">Allow</button></form>"
        }.joined()
        let title = isGraph ? "Microsoft (simulated): let Backfill read your mail?" : "Google (simulated): let Backfill read your Gmail?"
        return .text(200, "<!doctype html><html><head><title>\(title)</title></head><body><h1>\(title)</h1>\(buttons)</body></html>",
                     contentType: "text/html; charset=utf-8")
    }

    /// The "Allow" button: issues a code and redirects to `redirect_uri?code=...&state=...`.
    func authorizeAllow(_ request: SimRequest, provider: TokenRegistry.Provider) -> SimResponse {
        guard let redirect = request.parameter("redirect_uri"), let account = request.parameter("account"),
              let index = mailbox(named: account)
        else { return .text(400, "redirect_uri and account are required") }
        let code = tokens.newToken(prefix: provider == .microsoft ? "M.C5" : "4/0A")
        let method = request.parameter("code_challenge_method") ?? "plain"
        tokens.codes[code] = .init(provider: provider, principal: mailboxes[index].address, redirectURI: redirect,
                                   codeChallenge: method == "S256" ? request.parameter("code_challenge") : nil,
                                   expires: now.addingTimeInterval(600))
        var location = redirect + (redirect.contains("?") ? "&" : "?") + "code=" + SimRequest.encodeQueryComponent(code)
        if let state = request.parameter("state") { location += "&state=" + SimRequest.encodeQueryComponent(state) }
        return SimResponse(status: 302, headers: [("Location", location)])
    }

    private func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
