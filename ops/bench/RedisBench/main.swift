// Measures the Redis client against a server given by URL, for the same commands redis-benchmark sends
// (`SET key:__rand_int__ xxx`). Prints one line per mode: "MODE COMMANDS_PER_SECOND".
// Modes: single (sequential awaits from an ordinary task), executor (the same loop on the connection's
// thread, via client.executor), pipeline (batches of 16).
// Usage: RedisBench URL single|executor|pipeline REQUESTS. Run by ops/bench/redis, which prints the ratios.
import BackfillRedis
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count == 4, let requests = Int(arguments[3]), requests > 0,
    ["single", "executor", "pipeline"].contains(arguments[2])
else {
    print("usage: RedisBench URL single|executor|pipeline REQUESTS")
    exit(2)
}
let mode = arguments[2]
let batchSize = 16
let command = ["SET", "key:__rand_int__", "xxx"]

let client = RedisClient(
    configuration: try RedisConfiguration(url: arguments[1], poolSize: 1),
    logger: Logger(label: "RedisBench"))
_ = try await client.send(["PING"])  // connect before the clock starts

let elapsed: Duration
switch mode {
case "single": elapsed = try await sequentialRoundTrips(client, requests)
case "executor":
    elapsed = try await withTaskExecutorPreference(client.executor) { try await sequentialRoundTrips(client, requests) }
default: elapsed = try await pipelinedBatches(client, requests / batchSize)
}
await client.close()
let sent = mode == "pipeline" ? requests / batchSize * batchSize : requests
print(mode, Int(Double(sent) / (elapsed / .seconds(1))))

// The loops are nonisolated functions: top-level code runs on the main actor, and awaiting there would
// hop to the main thread after every reply.
nonisolated func sequentialRoundTrips(_ client: RedisClient, _ requests: Int) async throws -> Duration {
    try await ContinuousClock().measure {
        for _ in 0..<requests { _ = try await client.send(command) }
    }
}

nonisolated func pipelinedBatches(_ client: RedisClient, _ batches: Int) async throws -> Duration {
    let batch = Array(repeating: command, count: batchSize)
    return try await ContinuousClock().measure {
        for _ in 0..<batches { _ = try await client.pipeline(batch) }
    }
}
