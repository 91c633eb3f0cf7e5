import BackfillHTTP
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The simulator as a running HTTP server: Graph under `/graph/v1.0`, the Microsoft login under `/login`,
/// Gmail under `/gmail` (API at `/gmail/gmail/v1`, batch at `/gmail/batch/gmail/v1`), Google OAuth under
/// `/google` (push-token signing keys at `/google/oauth2/v3/certs`), and the control API under `/_sim`.
public final class SimulatorServer: Sendable {
    public let host: String
    public let port: Int
    private let engine: SimulatorEngine
    private let client: HTTPClient
    private let serverTask: Task<Void, any Error>
    private let group: ServiceGroup

    /// "http://HOST:PORT".
    public var baseURL: String { "http://\(host):\(port)" }
    public var graphBaseURL: String { baseURL + "/graph/v1.0" }
    /// Microsoft identity platform base: token endpoint at `{loginBaseURL}/{tenant}/oauth2/v2.0/token`.
    public var microsoftLoginBaseURL: String { baseURL + "/login" }
    /// Gmail base: API calls at `{gmailBaseURL}/gmail/v1/users/...`, batch at `{gmailBaseURL}/batch/gmail/v1`.
    public var gmailBaseURL: String { baseURL + "/gmail" }
    /// Google OAuth base: token endpoint at `{googleOAuthBaseURL}/token`, consent at `/o/oauth2/v2/auth`.
    public var googleOAuthBaseURL: String { baseURL + "/google" }
    public var controlBaseURL: String { baseURL + "/_sim" }
    /// Google's signing keys for push tokens (a JWKS), as at https://www.googleapis.com/oauth2/v3/certs.
    public var googleCertsURL: String { baseURL + "/google/oauth2/v3/certs" }
    /// The service account the simulator's Pub/Sub pushes as: the `email` of their OIDC tokens.
    public static let pushServiceAccount = PubSubSigner.serviceAccount

    private init(
        host: String, port: Int, engine: SimulatorEngine, client: HTTPClient, serverTask: Task<Void, any Error>, group: ServiceGroup
    ) {
        self.host = host
        self.port = port
        self.engine = engine
        self.client = client
        self.serverTask = serverTask
        self.group = group
    }

    /// Generates the scenario's mailboxes and starts serving; port 0 picks a free port.
    public static func start(scenario: Scenario, host: String = "127.0.0.1", port: Int = 0,
                             logger: Logger = Logger(label: "backfill.simulator")) async throws -> SimulatorServer {
        let world = try SimulatorWorld(scenario: scenario)
        let client = HTTPClient(logger: logger)
        let engine = SimulatorEngine(world: world, client: client)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var serverLogger = logger
        // Open connections cut at shutdown log an error each; that is expected, not news.
        serverLogger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder { (request: Request, _: BasicRequestContext) in
                await Self.respond(to: request, engine: engine)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "backfill-simulator"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: serverLogger
        )
        // Stopped by a graceful shutdown, never by cancelling the task: cancelling a server while it accepts
        // a connection can crash in swift-nio (apple/swift-nio#3481).
        let group = ServiceGroup(services: [app], logger: serverLogger)
        // The server outlives this call: it runs until `stop()` shuts the group down.
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next(), bound > 0 else {
            await group.triggerGracefulShutdown()
            throw SimulatorError.didNotStart
        }
        engine.world.withLock { $0.baseURL = "http://\(host):\(bound)" }
        return SimulatorServer(host: host, port: bound, engine: engine, client: client, serverTask: task, group: group)
    }

    /// Stops serving and waits for the server to end.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await serverTask.result
        await client.shutdown()
    }

    /// Waits until the server ends (for `backfill simulate`, which runs until interrupted).
    public func waitUntilStopped() async {
        _ = await serverTask.result
    }

    private static func respond(to request: Request, engine: SimulatorEngine) async -> Response {
        var request = request
        let body = (try? await request.collectBody(upTo: 32 << 20)).map { Data($0.readableBytesView) } ?? Data()
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let simRequest = SimRequest(method: request.method.rawValue, path: request.uri.path,
                                    rawQuery: request.uri.query, headers: headers, body: body)
        let response = await engine.respond(simRequest)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let fieldName = HTTPFields.Element.Name(name) { fields.append(.init(name: fieldName, value: value)) }
        }
        return Response(status: .init(code: response.status), headers: fields,
                        body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
    }
}
