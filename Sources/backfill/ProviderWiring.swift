import BackfillCore
import BackfillServer

/// The one place where `serve` gets its credential sealer and its mail provider.
///
/// TO THE INTEGRATOR: the provider clients (`BackfillProviders`: `TokenCipher`, `GraphProvider`,
/// `GmailProvider`, `ProviderRouter`) land on another branch. Wire them here: the sealer from
/// `settings.secretKey`, the provider from the provider URLs, client ids and secrets in `settings` and the
/// `environment` (connection directory, request slots). Until then `serve` refuses to start, saying so.
enum ProviderWiring {
    static func sealer(_ settings: ServeSettings) throws -> any CredentialSealer {
        throw ConfigurationError("this build has no provider clients wired in yet (see ProviderWiring.swift)")
    }

    static func provider(_ settings: ServeSettings, _ environment: ProviderEnvironment) throws -> any MailProvider {
        throw ConfigurationError("this build has no provider clients wired in yet (see ProviderWiring.swift)")
    }
}
