import Hummingbird

/// Lets a request through only with `Authorization: Bearer <token>` (when the server has a token).
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix.lowercased()),
              SecretComparison.equal(String(header.dropFirst(prefix.count)), token)
        else { throw APIError.unauthorized }
        return try await next(request, context)
    }
}
