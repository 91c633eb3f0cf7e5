import BackfillCore
import Foundation
import NIOSSL
import PostgresNIO

/// Where the PostgreSQL store is and how to reach it, from a URL in libpq's form:
/// `postgres://user:password@host:5432/database?sslmode=require&sslrootcert=/path/ca.pem`.
/// `sslmode` follows libpq: `disable`, `prefer` (the default: TLS when the server offers it, unverified),
/// `require` (TLS, unverified), `verify-ca` (the chain, not the name), `verify-full` (chain and name).
/// The password never appears in `description` or in an error.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// A PEM file of the certificate authorities to trust (libpq's `sslrootcert`); nil: the system's.
    public var sslRootCertificate: String?
    /// Most connections the pool opens (`--store-pool-size`).
    public var poolSize: Int
    /// Longest a store call waits for the database, connecting included; past it the call fails with
    /// `StoreUnavailable` (the scheduler waits, `/readyz` answers 503).
    public var operationTimeout: Duration = .seconds(10)
    /// Longest a connection attempt takes.
    public var connectTimeout: Duration = .seconds(5)

    /// Parses `url`; the error says what is wrong with it and never quotes the password.
    public init(url text: String, poolSize: Int = 10) throws(StoreConfigurationError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw StoreConfigurationError("the store URL must start with postgres:// (like postgres://user:password@host:5432/database)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreConfigurationError("the store URL names no host (like postgres://user:password@host:5432/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreConfigurationError("the store URL names no user (like postgres://user:password@host:5432/database)")
        }
        guard (1...1000).contains(poolSize) else {
            throw StoreConfigurationError("the store's pool size must be a whole number from 1 to 1000")
        }
        self.host = host
        port = components.port ?? 5432
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? username : (path.removingPercentEncoding ?? path)
        self.poolSize = poolSize
        sslMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw StoreConfigurationError(
                        "the store URL's sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert":
                sslRootCertificate = item.value
            default:
                throw StoreConfigurationError("the store URL has an unknown parameter '\(item.name.prefix(40))'; known: sslmode, sslrootcert")
            }
        }
    }

    /// The URL without its password, for logs.
    public var description: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// postgres-nio's configuration: TLS as `sslMode` says, the pool's size and timeouts.
    func clientConfiguration() throws -> PostgresClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let sslRootCertificate { tls.trustRoots = .file(sslRootCertificate) }
        let mode: PostgresClient.Configuration.TLS
        switch sslMode {
        case .disable:
            mode = .disable
        case .prefer, .require:
            // As libpq: encryption without checking who answers.
            tls.certificateVerification = .none
            mode = sslMode == .prefer ? .prefer(tls) : .require(tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            mode = .require(tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            mode = .require(tls)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: mode)
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }
}
