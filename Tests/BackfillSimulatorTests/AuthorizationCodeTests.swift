import BackfillHTTP
import BackfillSimulator
import Crypto
import Foundation
import Testing

@Suite("OAuth authorization-code flow")
struct AuthorizationCodeTests {
    @Test("the consent page's Allow redirects with code and state, and the code with its PKCE verifier buys tokens once")
    func authorizationCodeWithPKCE() async throws {
        try await SimulatorHarness.with { sim in
            let noRedirects = HTTPClient(configuration: .init(maxRedirects: 0))
            let verifier = "a-verifier-of-enough-length-0123456789abcdefghijkl"
            let challenge = Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            let redirect = "http://127.0.0.1:9/callback"
            let query = "client_id=backfill-graph-client&response_type=code&redirect_uri=\(SimulatorHarness.encode(redirect))"
                + "&state=xyz&code_challenge=\(challenge)&code_challenge_method=S256"
            let page = try await sim.send(sim.server.microsoftLoginBaseURL + "/common/oauth2/v2.0/authorize?" + query)
            #expect(page.status == 200)
            #expect(String(decoding: page.body, as: UTF8.self).contains(SimulatorHarness.graphAddress))
            let allow = try await noRedirects.send(HTTPRequest(
                url: sim.server.microsoftLoginBaseURL + "/common/oauth2/v2.0/authorize/allow?" + query
                    + "&account=\(SimulatorHarness.graphAddress)"))
            #expect(allow.status == 302)
            let location = try #require(allow.headers["Location"].flatMap(URLComponents.init(string:)))
            #expect(location.path == "/callback")
            #expect(location.queryItems?.first { $0.name == "state" }?.value == "xyz")
            let code = try #require(location.queryItems?.first { $0.name == "code" }?.value)
            func exchange(_ verifier: String) async throws -> HTTPResponse {
                let form = "grant_type=authorization_code&client_id=backfill-graph-client&code=\(SimulatorHarness.encode(code))"
                    + "&redirect_uri=\(SimulatorHarness.encode(redirect))&code_verifier=\(verifier)"
                return try await sim.send("POST", sim.server.microsoftLoginBaseURL + "/common/oauth2/v2.0/token",
                                          headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                          body: Data(form.utf8))
            }
            let tokens = try await exchange(verifier)
            #expect(tokens.status == 200)
            let access = try #require(try sim.json(tokens)["access_token"] as? String)
            #expect(try await sim.send(sim.server.graphBaseURL + "/me/mailFolders", token: access).status == 200)
            let me = try await sim.send(sim.server.graphBaseURL + "/me", token: access)
            #expect(me.status == 200)
            #expect(try sim.json(me)["mail"] as? String == SimulatorHarness.graphAddress, "GET /me names the signed-in mailbox")
            #expect(try await exchange(verifier).status == 400, "a code works once")
            await noRedirects.shutdown()
        }
    }
}
