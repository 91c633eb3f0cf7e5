import BackfillRedis
import Testing

@Suite("Redis configuration")
struct RedisConfigurationTests {
    @Test("parses host, port, password and database from a redis URL")
    func parsesFullURL() throws {
        let configuration = try RedisConfiguration(url: "redis://:s%40cret@cache.local:6380/3")
        #expect(configuration.endpoint == .tcp(host: "cache.local", port: 6380))
        #expect(configuration.password == "s@cret")
        #expect(configuration.username == nil)
        #expect(configuration.database == 3)
    }

    @Test("defaults to port 6379, database 0 and no password")
    func appliesDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://127.0.0.1")
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 6379))
        #expect(configuration.password == nil)
        #expect(configuration.database == 0)
    }

    @Test("reads an ACL user and an IPv6 host")
    func parsesUserAndIPv6() throws {
        let configuration = try RedisConfiguration(url: "redis://worker:pw@[::1]:7000")
        #expect(configuration.endpoint == .tcp(host: "::1", port: 7000))
        #expect(configuration.username == "worker")
        #expect(configuration.password == "pw")
    }

    @Test("parses a unix socket URL with a database")
    func parsesUnixURL() throws {
        let configuration = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=2")
        #expect(configuration.endpoint == .unix(path: "/run/redis/redis.sock"))
        #expect(configuration.database == 2)
    }

    @Test(
        "rejects bad URLs with an invalidURL error",
        arguments: [
            "", "http://127.0.0.1:6379", "redis://", "redis://host:port", "redis://host:0", "redis://host:70000",
            "redis://host/db", "redis://host/-1", "redis://pw@host", "unix://", "unix://relative.sock",
            "unix:///tmp/r.sock?database=1", "redis://[::1", "redis://:p%zz@host",
        ])
    func rejectsBadURL(url: String) {
        #expect { try RedisConfiguration(url: url) } throws: { error in
            (error as? RedisError)?.code == .invalidURL
        }
    }

    @Test("refuses rediss:// and points at the TLS sidecar, without repeating the URL", arguments: [
        "rediss://:hunter2@redis.example.com:6380/0", "REDISS://redis.example.com",
    ])
    func refusesTLS(url: String) throws {
        let error = try #require(throws: RedisError.self) { try RedisConfiguration(url: url) }
        #expect(error.code == .invalidURL)
        #expect(error.message == RedisConfiguration.tlsRefusal)
        for part in ["rediss://", "hiredis 0.14 has no TLS", "stunnel", "ops/stunnel/backfill-redis.conf", "Redis over TLS",
                     "redis://127.0.0.1:6380"] {
            #expect(error.message.contains(part), "the refusal does not say \(part)")
        }
        #expect(!error.description.contains("hunter2"))
    }

    @Test("never repeats the password in an error or a description")
    func keepsPasswordOutOfErrors() throws {
        let error = try #require(throws: RedisError.self) {
            try RedisConfiguration(url: "redis://:hunter2@host:notaport")
        }
        #expect(error.code == .invalidURL)
        #expect(!error.description.contains("hunter2"))
        let configuration = try RedisConfiguration(url: "redis://:hunter2@host:6379")
        #expect(!String(describing: configuration).contains("hunter2"))
    }

    @Test("rejects an empty pool and non-positive timeouts")
    func rejectsBadLimits() {
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h", poolSize: 0) }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h", commandTimeout: .zero) }
    }
}
