// Measures the Redis client against a server given by URL, for the same commands redis-benchmark sends
// (`SET key:__rand_int__ xxx`). Prints one line per mode: "MODE COMMANDS_PER_SECOND".
// Usage: RedisBench URL single|pipeline REQUESTS. Run by ops/bench/redis, which prints the ratios.
import BackfillRedis
import Foundation
import Logging

let arguments = CommandLine.arguments
guard arguments.count == 4, let requests = Int(arguments[3]), requests > 0,
    ["single", "pipeline"].contains(arguments[2])
else {
    print("usage: RedisBench URL single|pipeline REQUESTS")
    exit(2)
}
let mode = arguments[2]
let batchSize = 16
let command = ["SET", "key:__rand_int__", "xxx"]

let client = RedisClient(
    configuration: try RedisConfiguration(url: arguments[1], poolSize: 1),
    logger: Logger(label: "RedisBench"))
_ = try await client.send(["PING"])  // connect before the clock starts

let clock = ContinuousClock()
let elapsed: Duration
switch mode {
case "single":
    elapsed = try await clock.measure {
        for _ in 0..<requests { _ = try await client.send(command) }
    }
default:
    let batch = Array(repeating: command, count: batchSize)
    elapsed = try await clock.measure {
        for _ in 0..<(requests / batchSize) { _ = try await client.pipeline(batch) }
    }
}
await client.close()
let sent = mode == "single" ? requests : requests / batchSize * batchSize
print(mode, Int(Double(sent) / (elapsed / .seconds(1))))
