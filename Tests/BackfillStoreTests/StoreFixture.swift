import BackfillCore
import BackfillStore
import Foundation

/// A fresh store file (in nested directories the store creates) in its own temporary directory, removed
/// when the test lets go of the fixture.
final class StoreFixture: Sendable {
    let directory: URL
    let path: String
    let store: SQLiteMessageStore

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("BackfillStoreTests-\(UUID().uuidString)", isDirectory: true)
        path = directory.appendingPathComponent("nested/messages.sqlite").path
        store = try SQLiteMessageStore(path: path)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}
