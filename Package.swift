// swift-tools-version:6.1
import PackageDescription

// Dependencies point downward only:
//   backfill (executable) → BackfillServer → BackfillScheduler, BackfillProviders, BackfillStore
//   (SQLite) and BackfillPostgres (the executable picks one) → BackfillCore and the C wrappers (BackfillRedis over hiredis, BackfillHTTP over libcurl).
// BackfillSimulator stands beside the service: tests and the demo talk to it over real HTTP.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Backfill",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "backfill", targets: ["backfill"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
    ],
    targets: [
        // MARK: C libraries (system packages; installed by ops/setup)
        // Headers sit on the default include path on Debian; no pkgConfig, whose cflags SwiftPM rejects
        // with a warning (-D_FILE_OFFSET_BITS=64).
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // MARK: Core: models, state machine, ranges, progress, error classification. No I/O.
        .target(name: "BackfillCore", swiftSettings: strict),

        // MARK: Thin wrappers over the C libraries. C types never leave them.
        .target(
            name: "BackfillRedis",
            dependencies: ["CHiredis", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "BackfillHTTP",
            dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // MARK: The message store (SQLite through GRDB).
        .target(
            name: "BackfillStore",
            dependencies: ["BackfillCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),

        // MARK: The message store on PostgreSQL (postgres-nio), beside the SQLite one; kept out of the core.
        .target(
            name: "BackfillPostgres",
            dependencies: [
                "BackfillCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // MARK: The scheduler: job state, leases, nudges, retries in Redis.
        .target(
            name: "BackfillScheduler",
            dependencies: [
                "BackfillCore", "BackfillRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: Provider clients (Graph, Gmail) over the HTTP client.
        .target(
            name: "BackfillProviders",
            dependencies: [
                "BackfillCore", "BackfillHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),

        // MARK: The provider simulator (Graph + Gmail over real HTTP).
        .target(
            name: "BackfillSimulator",
            dependencies: [
                "BackfillHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The simulated Pub/Sub signs push tokens with an RSA key of its own.
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            resources: [.copy("Scenarios")],
            swiftSettings: strict
        ),

        // MARK: The service: HTTP API, console, webhooks, metrics, service group.
        .target(
            name: "BackfillServer",
            dependencies: [
                "BackfillCore", "BackfillScheduler", "BackfillProviders", "BackfillStore", "BackfillRedis", "BackfillHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            // The console: plain HTML, CSS, one script and the OpenAPI document, served as they are.
            resources: [.copy("Console")],
            swiftSettings: strict
        ),

        // MARK: The executable: serve, demo, simulate, support subcommands.
        .executableTarget(
            name: "backfill",
            dependencies: [
                "BackfillServer", "BackfillSimulator", "BackfillCore", "BackfillHTTP", "BackfillRedis", "BackfillScheduler",
                "BackfillStore", "BackfillPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: Benchmarks (run by ops/bench/run in release mode).
        .executableTarget(
            name: "RedisBench",
            dependencies: ["BackfillRedis"],
            path: "ops/bench/RedisBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SchedulerBench",
            dependencies: [
                "BackfillCore", "BackfillScheduler", "BackfillRedis",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ops/bench/SchedulerBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "HTTPBench",
            dependencies: ["BackfillHTTP", .product(name: "Hummingbird", package: "hummingbird")],
            path: "ops/bench/HTTPBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "StoreBench",
            dependencies: ["BackfillCore", "BackfillStore", "BackfillPostgres", .product(name: "Logging", package: "swift-log")],
            path: "ops/bench/StoreBench",
            swiftSettings: strict
        ),

        .target(
            name: "BenchSupport",
            dependencies: ["BackfillCore", "BackfillHTTP", "BackfillScheduler"],
            path: "ops/bench/BenchSupport",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "QuotaBench",
            dependencies: [
                "BackfillCore", "BackfillHTTP", "BackfillProviders", "BackfillRedis", "BackfillScheduler", "BackfillSimulator",
                "BackfillStore", "BenchSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ops/bench/QuotaBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TTVBench",
            dependencies: [
                "BackfillCore", "BackfillHTTP", "BackfillProviders", "BackfillRedis", "BackfillScheduler", "BackfillSimulator",
                "BackfillStore", "BenchSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "ops/bench/TTVBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "TickBench",
            dependencies: ["BackfillCore", "BackfillRedis", "BackfillScheduler", "BackfillServer", .product(name: "Logging", package: "swift-log")],
            path: "ops/bench/TickBench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SimulatorBench",
            dependencies: ["BackfillSimulator", "BackfillHTTP"],
            path: "ops/bench/SimulatorBench",
            swiftSettings: strict
        ),

        // MARK: Tests
        .testTarget(name: "BackfillCoreTests", dependencies: ["BackfillCore"], swiftSettings: strict),
        .testTarget(
            name: "BackfillRedisTests",
            dependencies: ["BackfillRedis", "BackfillTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillHTTPTests",
            dependencies: [
                "BackfillHTTP", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillStoreTests",
            dependencies: [
                "BackfillStore", "BackfillPostgres", "BackfillCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillSchedulerTests",
            dependencies: [
                "BackfillScheduler", "BackfillRedis", "BackfillStore", "BackfillTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillEndToEndTests",
            dependencies: [
                "BackfillCore", "BackfillScheduler", "BackfillProviders", "BackfillStore", "BackfillSimulator",
                "BackfillHTTP", "BackfillRedis", "BackfillTestSupport",
                // The real-time trouble tests reconnect through MailboxConnector and open channels with SubscriptionKeeper.
                "BackfillServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                // The completeness audit test removes rows behind the store's back.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // Shared test parts: a private redis-server, a deterministic provider and a Redis-backed store for
        // scheduler tests, and the program that runs one scheduler instance as its own process (tests start
        // several and kill them).
        .target(
            name: "BackfillTestSupport",
            dependencies: [
                "BackfillCore", "BackfillRedis", "BackfillScheduler", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/BackfillTestSupport",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "SchedulerHarness",
            dependencies: [
                "BackfillTestSupport", "BackfillScheduler",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SchedulerHarness",
            swiftSettings: strict
        ),
        // The API, webhooks and operations endpoints over real sockets, and the `backfill` binary against them.
        .testTarget(
            name: "BackfillServerTests",
            dependencies: [
                "BackfillServer", "BackfillCore", "BackfillScheduler", "BackfillRedis", "BackfillHTTP", "BackfillStore",
                // The OAuth connect flow runs against the simulator's consent pages and token endpoints.
                "BackfillSimulator", "BackfillProviders", "BackfillTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillSimulatorTests",
            dependencies: ["BackfillSimulator", "BackfillHTTP", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "BackfillProvidersTests",
            dependencies: [
                "BackfillProviders", "BackfillSimulator", "BackfillHTTP", "BackfillCore",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
    ]
)
