import Foundation
import Hummingbird

/// The console's static files (page, styles, script, OpenAPI document), read once from the bundle.
struct ConsoleFiles: Sendable {
    /// URL path → (content type, bytes).
    let files: [String: (contentType: String, body: ByteBuffer)]

    init() throws {
        guard let directory = Bundle.module.url(forResource: "Console", withExtension: nil) else {
            throw ConfigurationError("the console files are missing from the BackfillServer bundle")
        }
        let served: [(path: String, file: String, type: String)] = [
            ("/", "index.html", "text/html; charset=utf-8"),
            ("/console.css", "console.css", "text/css; charset=utf-8"),
            ("/console.js", "console.js", "text/javascript; charset=utf-8"),
            ("/openapi.json", "openapi.json", "application/json; charset=utf-8"),
        ]
        var files: [String: (String, ByteBuffer)] = [:]
        for entry in served {
            let data = try Data(contentsOf: directory.appendingPathComponent(entry.file))
            files[entry.path] = (entry.type, ByteBuffer(bytes: data))
        }
        self.files = files
    }

    func register(on router: Router<BasicRequestContext>) {
        for (path, file) in files {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                    body: ResponseBody(byteBuffer: file.body)
                )
            }
        }
    }
}
