import BackfillCore
import BackfillRedis
import HTTPTypes
import Hummingbird
import Logging
import Prometheus

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}

/// The outermost middleware: every error becomes the API's JSON error body (Hummingbird's own 404 and
/// 405 included), unexpected errors become a 500 that names nothing internal, and every request is
/// counted by route pattern and status (never by connection id). Every response says
/// `X-Content-Type-Options: nosniff`, so a browser never reads a JSON or text answer as a script or page.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "backfill", metricName: "http_requests", unitName: "total", helpText: "HTTP requests by route pattern and status."
        )
    }

    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError: APIError
            switch error {
            case let error as APIError: apiError = error
            case let error as HTTPError: apiError = .from(error)
            case let error as RedisError where error.isOutage: apiError = .redisUnavailable
            case let error as StoreUnavailable:
                // The store's own words name the condition (never a password or message content).
                logger.warning("store unavailable", metadata: ["route": "\(context.endpointPath ?? request.uri.path)", "error": "\(error)"])
                apiError = .storeUnavailable
            case let error as any HTTPResponseError:
                apiError = APIError(error.status, code: error.status == .contentTooLarge ? "body_too_large" : "bad_request",
                                    message: error.status.reasonPhrase)
            default:
                logger.error("request failed", metadata: ["route": "\(context.endpointPath ?? request.uri.path)", "error": "\(error)"])
                apiError = APIError(.internalServerError, code: "internal", message: "the server could not complete the request; see its log")
            }
            response = try apiError.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        registry.makeCounter(
            descriptor: Self.requests,
            labels: [("route", context.endpointPath ?? "unmatched"), ("status", String(response.status.code))]
        ).increment()
        return response
    }
}
