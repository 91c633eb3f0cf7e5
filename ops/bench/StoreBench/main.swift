// Store insert benchmark (run by ops/bench/store, which compares it with ops/bench/sqlite-insert.c).
//
//   StoreBench prepare PATH             creates an empty store file (the C baseline inserts into it)
//   StoreBench insert PATH ROWS BATCH   inserts ROWS ~1 KB messages in batches; prints "inserts/s: N"
//                                       (wall clock) and "inserts/cpu-s: N" (process CPU time, all threads)
//   StoreBench pg-prepare URL           creates the PostgreSQL store's schema in the database URL names
//   StoreBench pg-insert URL ROWS BATCH the same inserts into PostgresMessageStore (pool of 1 connection)
//
// Rows are built before the clock starts, as the C program does; the clock covers `insert` calls only.
import BackfillCore
import BackfillPostgres
import BackfillStore
import Foundation
import Logging

/// The benchmark's rows; keep in step with `make_row` in ops/bench/sqlite-insert.c.
enum BenchRows {
    static let snippetText = "Hello team, here is the follow-up on the quarterly numbers we discussed on Monday. "
        + "Revenue is up, costs are flat, and the forecast for next quarter looks steady. "

    static func make(_ i: Int) -> StoredMessage {
        let number = String(format: "%08d", i)
        var snippet = number + " "
        while snippet.utf8.count < 800 { snippet += snippetText }
        let receivedAt = Date(timeIntervalSince1970: Double(1_700_000_000_000 - Int64(i) * 60_000) / 1000)
        return StoredMessage(
            connectionId: "bench-connection", providerMessageId: "AAMkAGI2TG93AAA-\(number)",
            folder: i % 5 == 0 ? .sent : .inbox, internetMessageId: "<\(number).bench@mail.example.com>",
            conversationId: String(format: "conv-%06d", i / 4), subject: "Quarterly report follow-up \(i)",
            from: "\"Sender \(i % 97)\" <sender\(i % 97)@example.com>", to: ["alice@example.com", "bob@example.com"],
            receivedAt: receivedAt, sentAt: receivedAt.addingTimeInterval(-5),
            snippet: String(decoding: snippet.utf8.prefix(800), as: UTF8.self), source: .backfill)
    }
}

/// CPU time of the whole process (every thread, GRDB's writer queue included), in seconds.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The bench's logger: warnings only, so the figures are all it prints.
let benchLogger: Logger = {
    var logger = Logger(label: "StoreBench")
    logger.logLevel = .warning
    return logger
}()

func fail(_ text: String) -> Never {
    FileHandle.standardError.write(Data("StoreBench: \(text)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
case (3, "prepare"):
    do { _ = try SQLiteMessageStore(path: arguments[2]) } catch { fail("cannot create the store: \(error)") }
case (5, "insert"):
    guard let rows = Int(arguments[3]), let batchSize = Int(arguments[4]), rows > 0, batchSize > 0 else {
        fail("ROWS and BATCH must be positive integers")
    }
    let batches = stride(from: 0, to: rows, by: batchSize).map { first in
        (first..<min(first + batchSize, rows)).map(BenchRows.make)
    }
    do {
        let store = try SQLiteMessageStore(path: arguments[2])
        let clock = ContinuousClock()
        var inserted = 0
        let cpuStart = processCPUSeconds()
        let elapsed = try await clock.measure {
            for batch in batches { inserted += try await store.insert(batch) }
        }
        let cpuSeconds = processCPUSeconds() - cpuStart
        guard inserted == rows else { fail("\(inserted) new rows, expected \(rows)") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("inserts/s: \(Int((Double(rows) / seconds).rounded()))")
        print("inserts/cpu-s: \(Int((Double(rows) / cpuSeconds).rounded()))")
    } catch {
        fail("insert failed: \(error)")
    }
case (3, "pg-prepare"):
    do {
        let store = try await PostgresMessageStore(
            configuration: PostgresStoreConfiguration(url: arguments[2], poolSize: 1), logger: benchLogger)
        await store.shutdown()
    } catch {
        fail("cannot create the PostgreSQL store: \(error)")
    }
case (5, "pg-insert"):
    guard let rows = Int(arguments[3]), let batchSize = Int(arguments[4]), rows > 0, batchSize > 0 else {
        fail("ROWS and BATCH must be positive integers")
    }
    let batches = stride(from: 0, to: rows, by: batchSize).map { first in
        (first..<min(first + batchSize, rows)).map(BenchRows.make)
    }
    do {
        // One connection, as the C baseline has; the first query opens it before the clock starts.
        let store = try await PostgresMessageStore(
            configuration: PostgresStoreConfiguration(url: arguments[2], poolSize: 1), logger: benchLogger)
        _ = try await store.count(connectionId: "warm-up")
        let clock = ContinuousClock()
        var inserted = 0
        let cpuStart = processCPUSeconds()
        let elapsed = try await clock.measure {
            for batch in batches { inserted += try await store.insert(batch) }
        }
        let cpuSeconds = processCPUSeconds() - cpuStart
        await store.shutdown()
        guard inserted == rows else { fail("\(inserted) new rows, expected \(rows)") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("inserts/s: \(Int((Double(rows) / seconds).rounded()))")
        print("inserts/cpu-s: \(Int((Double(rows) / cpuSeconds).rounded()))")
    } catch {
        fail("insert failed: \(error)")
    }
default:
    fail("usage: StoreBench prepare PATH | insert PATH ROWS BATCH | pg-prepare URL | pg-insert URL ROWS BATCH")
}
