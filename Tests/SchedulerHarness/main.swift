import BackfillRedis
import BackfillScheduler
import Foundation
import Logging
import BackfillTestSupport
import ServiceLifecycle

// One scheduler instance as its own process, for tests about instances (crash recovery, ticks).
// Configured by environment variables; SIGTERM shuts it down gracefully.
let environment = ProcessInfo.processInfo.environment
func setting(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = environment["HARNESS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .notice
    return handler
}
let instance = environment["HARNESS_INSTANCE"] ?? "harness-\(getpid())"
let prefix = environment["HARNESS_PREFIX"] ?? "harness"
var logger = Logger(label: "harness")
logger[metadataKey: "instance"] = "\(instance)"

var configuration = SchedulerConfiguration(instanceId: instance)
configuration.keyPrefix = prefix
configuration.leaseDuration = .milliseconds(setting("HARNESS_LEASE_MS", 2000))
configuration.auditPeriod = .milliseconds(setting("HARNESS_AUDIT_MS", 500))
configuration.tickPeriod = .milliseconds(setting("HARNESS_TICK_MS", 3_600_000))
configuration.slicePages = setting("HARNESS_SLICE_PAGES", 20)
configuration.workerConcurrency = setting("HARNESS_CONCURRENCY", 4)
configuration.idleWait = .milliseconds(setting("HARNESS_IDLE_WAIT_MS", 1000))

let redis = RedisClient(configuration: try RedisConfiguration(url: environment["HARNESS_REDIS_URL"] ?? "redis://127.0.0.1:6379"), logger: logger)
let scheduler = Scheduler(redis: redis, configuration: configuration, logger: logger)
let testKeys = TestKeys(prefix: prefix)
let provider = CountingMailProvider(
    redis: redis, keys: testKeys, pageSize: setting("HARNESS_PAGE_SIZE", 10),
    pageDelay: .milliseconds(setting("HARNESS_PAGE_DELAY_MS", 0)), instance: instance,
    slots: RedisSharedAdmission(scheduler: scheduler)
)
let store = RedisSetStore(redis: redis, keys: testKeys)
let services: [any Service] = [
    EventRelay(scheduler: scheduler, store: store, logger: logger),
    WorkerPool(scheduler: scheduler, provider: provider, store: store, logger: logger),
    Promoter(scheduler: scheduler, logger: logger),
    Auditor(scheduler: scheduler, logger: logger),
    PeriodicTick(scheduler: scheduler, logger: logger),
]
let group = ServiceGroup(configuration: .init(
    services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
))
FileHandle.standardOutput.write(Data("ready \(instance)\n".utf8))
try await group.run()
await redis.close()
