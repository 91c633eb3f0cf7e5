import Hummingbird

/// The small HTML pages a browser lands on when a connect flow cannot finish: what happened and a link
/// back to the console. Provider-supplied text is escaped; no code or token ever appears.
struct OAuthPage: Sendable {
    var status: HTTPResponse.Status
    var title: String
    var message: String

    var response: Response {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title)) — Backfill</title>
            <link rel="stylesheet" href="/console.css"></head><body><main class="panel" data-testid="oauth-result">
            <h1>\(Self.escape(title))</h1><p data-testid="oauth-message">\(Self.escape(message))</p>
            <p><a class="button primary" href="/" data-testid="back-to-console">Back to the console</a></p></main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
