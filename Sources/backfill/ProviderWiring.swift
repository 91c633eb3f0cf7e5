import BackfillCore
import BackfillHTTP
import BackfillProviders
import BackfillServer

/// The one place where `serve` (and `demo`) get the credential sealer and the mail providers.
enum ProviderWiring {
    /// Credentials are sealed with AES-GCM under a key derived from `BACKFILL_SECRET_KEY`.
    static func sealer(_ settings: ServeSettings) throws -> any CredentialSealer {
        do {
            return try TokenCipher(secret: settings.secretKey)
        } catch {
            throw ConfigurationError("secret-key cannot be used to encrypt tokens: \(error)")
        }
    }

    static func endpoints(_ settings: ServeSettings) -> ProviderEndpoints {
        ProviderEndpoints(
            graphBaseURL: settings.graphURL, msLoginBaseURL: settings.microsoftLoginURL,
            msClientId: settings.graphClientId ?? "", msClientSecret: settings.graphClientSecret ?? "",
            gmailBaseURL: settings.gmailURL, googleOAuthBaseURL: settings.googleOAuthURL,
            googleAccountsBaseURL: settings.googleAccountsURL,
            googleClientId: settings.googleClientId ?? "", googleClientSecret: settings.googleClientSecret ?? "",
            msApp: settings.graphAppTenant.map { tenant in
                ProviderEndpoints.MicrosoftApp(
                    tenant: tenant, clientId: settings.graphAppClientId ?? "", clientSecret: settings.graphAppClientSecret ?? ""
                )
            }
        )
    }

    /// Graph and Gmail behind one router, on one libcurl client, with the per-mailbox Retry-After gate and
    /// request slots every instance shares.
    static func provider(_ settings: ServeSettings, _ environment: ProviderEnvironment) throws -> any MailProvider {
        ProviderRouter(
            endpoints: endpoints(settings), directory: environment.directory, http: HTTPClient(logger: environment.logger),
            admission: environment.admission
        )
    }
}
