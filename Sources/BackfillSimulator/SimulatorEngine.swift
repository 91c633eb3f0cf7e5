import BackfillHTTP
import Foundation

/// Turns requests into responses: routing by prefix, then for provider calls the fixed pipeline
/// authenticate → address → admit (journal, limits, faults) → latency → handle → finish.
final class SimulatorEngine: Sendable {
    let world: LockedWorld
    /// Google's push-signing key and the tokens on Gmail pushes.
    let pubsub = PubSubSigner()
    private let client: HTTPClient

    init(world: SimulatorWorld, client: HTTPClient) {
        self.world = LockedWorld(world)
        self.client = client
    }

    func respond(_ request: SimRequest) async -> SimResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        switch segments.first {
        case "_sim" where segments.count >= 3 && segments[1] == "pubsub":
            return pubsubControl(request, action: Array(segments.dropFirst(2)))
        case "_sim":
            let (response, posts) = world.withLock { $0.handleControl(request, segments: Array(segments.dropFirst())) }
            await deliver(posts)
            return response
        case "login" where segments.count >= 4:
            let tail = segments.dropFirst(2).joined(separator: "/")
            let base = "/" + segments.prefix(4).joined(separator: "/")
            return world.withLock { world in
                switch tail {
                case "oauth2/v2.0/token": world.handleToken(request, provider: .microsoft)
                case "oauth2/v2.0/authorize": world.authorizePage(request, provider: .microsoft, allowPath: base + "/authorize/allow")
                case "oauth2/v2.0/authorize/allow": world.authorizeAllow(request, provider: .microsoft)
                default: .text(404, "not found")
                }
            }
        case "google" where segments.dropFirst().joined(separator: "/") == "oauth2/v3/certs":
            return pubsub.certs()
        case "google":
            let tail = segments.dropFirst().joined(separator: "/")
            return world.withLock { world in
                switch tail {
                case "token": world.handleToken(request, provider: .google)
                case "o/oauth2/v2/auth": world.authorizePage(request, provider: .google, allowPath: "/google/o/oauth2/v2/auth/allow")
                case "o/oauth2/v2/auth/allow": world.authorizeAllow(request, provider: .google)
                default: .text(404, "not found")
                }
            }
        case "graph" where segments.count >= 2 && segments[1] == "v1.0":
            return await graph(request, rest: "/" + segments.dropFirst(2).joined(separator: "/"))
        case "gmail" where segments.starts(with: ["gmail", "batch", "gmail", "v1"]):
            return await GmailBatch(engine: self).respond(request)
        case "gmail" where segments.starts(with: ["gmail", "gmail", "v1", "users"]) && segments.count >= 6:
            return await gmail(request, userID: segments[4], rest: Array(segments.dropFirst(5)))
        default:
            return .json(404, object: ["error": ["code": "NotFound", "message": "no such simulator route"]])
        }
    }

    // MARK: Graph

    private func graph(_ request: SimRequest, rest path: String) async -> SimResponse {
        let prefix = "/graph/v1.0"
        var subRequest = request
        subRequest.path = path
        let isSubscription = path.lowercased().hasPrefix("/subscriptions")
        let graphPath = SimulatorWorld.graphPath(path)
        let admission: Result<(SimulatorWorld.Call, Int, SimulatorWorld.Principal), SimResponse> = world.withLock { world in
            let principal: SimulatorWorld.Principal
            switch world.authenticate(request, provider: .microsoft) {
            case let .success(value): principal = value
            case let .failure(response): return .failure(response)
            }
            let mailbox: Int
            let route: String
            if isSubscription {
                guard let index = world.subscriptionCallMailbox(subRequest, path: path, principal: principal)
                    ?? world.mailboxes.firstIndex(where: \.isGraph) else {
                    return .failure(GraphErrors.accessDenied)
                }
                mailbox = index
                route = "graph.subscriptions.\(request.method.lowercased())"
            } else {
                guard let graphPath else { return .failure(GraphErrors.badRequest("Invalid request path.")) }
                switch world.graphMailbox(graphPath.mailboxName, principal: principal) {
                case let .success(index): mailbox = index
                case let .failure(response): return .failure(response)
                }
                route = SimulatorWorld.graphRouteName(graphPath.rest)
            }
            switch world.admit(mailbox: mailbox, isGraph: true, route: route, cost: 1, request: request) {
            case let .refused(response): return .failure(response)
            case let .admitted(call): return .success((call, world.latency(), principal))
            }
        }
        guard case let .success((call, latency, principal)) = admission else {
            if case let .failure(response) = admission { return response }
            return SimResponse(status: 500)
        }
        await sleep(milliseconds: latency)
        if isSubscription, request.method == "POST", path.split(separator: "/").count == 1 {
            return await createSubscription(subRequest, call: call, principal: principal)
        }
        return world.withLock { world in
            let response = isSubscription
                ? world.handleSubscription(subRequest, rest: path.split(separator: "/").map(String.init))
                : world.handleGraph(call, request: subRequest, path: graphPath!, prefix: prefix)
            world.finish(call, response: response, admitted: true)
            return world.corrupt(response)
        }
    }

    /// Creates a subscription after the validation handshake against its notification (and lifecycle) URL.
    private func createSubscription(_ request: SimRequest, call: SimulatorWorld.Call,
                                    principal: SimulatorWorld.Principal) async -> SimResponse {
        let prepared = world.withLock { $0.prepareSubscription(request, mailbox: call.mailbox, principal: principal) }
        var response: SimResponse
        switch prepared {
        case let .failure(refusal):
            response = refusal
        case let .success(subscription):
            response = await validate(subscription.notificationURL)
            if response.status == 200, let lifecycle = subscription.lifecycleURL {
                response = await validate(lifecycle)
            }
            if response.status == 200 {
                world.withLock { $0.subscriptions[subscription.id] = subscription }
                response = .json(201, object: subscription.json)
            }
        }
        return world.withLock { world in
            world.finish(call, response: response, admitted: true)
            return response
        }
    }

    private func validate(_ url: String) async -> SimResponse {
        let token = "Validation: Testing client application reachability for subscription Request-Id: \(UUID().uuidString.lowercased())"
        let target = url + (url.contains("?") ? "&" : "?") + "validationToken=" + SimRequest.encodeQueryComponent(token)
        let record = DeliveryRecord(kind: "graph.validation", url: url, body: "")
        do {
            let reply = try await client.send(HTTPRequest(method: "POST", url: target,
                                                          headers: ["Content-Type": "text/plain; charset=utf-8"],
                                                          body: Data(), totalTimeout: .seconds(10)))
            world.withLock { world in
                var done = record
                done.status = reply.status
                world.deliveries.append(done)
            }
            guard reply.status == 200, String(decoding: reply.body, as: UTF8.self) == token else {
                return GraphErrors.badRequest(
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                    code: "ValidationError")
            }
            return SimResponse(status: 200)
        } catch {
            world.withLock { $0.deliveries.append(record) }
            return GraphErrors.badRequest("Subscription validation request timed out.", code: "InvalidRequest")
        }
    }

    // MARK: Gmail

    func gmail(_ request: SimRequest, userID: String, rest: [String]) async -> SimResponse {
        switch admitGmail(request, userID: userID, rest: rest) {
        case let .failure(response):
            return response
        case let .success((call, latency)):
            await sleep(milliseconds: latency)
            return completeGmail(call, request: request, rest: rest)
        }
    }

    func admitGmail(_ request: SimRequest, userID: String, rest: [String])
        -> Result<(SimulatorWorld.Call, Int), SimResponse>
    {
        var arrival: Date?? = nil
        return admitGmail(request, userID: userID, rest: rest, batchArrival: &arrival)
    }

    /// - Parameter batchArrival: for a batch's calls, the mailbox's Retry-After time when the batch arrived (set
    ///   by its first call): they are sent together, so a refusal among them does not make the others early.
    func admitGmail(_ request: SimRequest, userID: String, rest: [String], batchArrival: inout Date??)
        -> Result<(SimulatorWorld.Call, Int), SimResponse>
    {
        world.withLock { world in
            let principal: SimulatorWorld.Principal
            switch world.authenticate(request, provider: .google) {
            case let .success(value): principal = value
            case let .failure(response): return .failure(response)
            }
            let mailbox: Int
            switch world.gmailMailbox(userID, principal: principal) {
            case let .success(index): mailbox = index
            case let .failure(response): return .failure(response)
            }
            let route = SimulatorWorld.gmailRoute(rest)
            if batchArrival == nil { batchArrival = .some(world.mailboxes[mailbox].traffic.retryNotBefore) }
            switch world.admit(mailbox: mailbox, isGraph: false, route: route.name, cost: route.cost, request: request,
                               retryNotBeforeAtArrival: batchArrival) {
            case let .refused(response): return .failure(response)
            case let .admitted(call): return .success((call, world.latency()))
            }
        }
    }

    func completeGmail(_ call: SimulatorWorld.Call, request: SimRequest, rest: [String]) -> SimResponse {
        world.withLock { world in
            let response = world.handleGmail(call, request: request, rest: rest)
            world.finish(call, response: response, admitted: true)
            return world.corrupt(response)
        }
    }

    // MARK: Outbound

    /// Posts notifications and pushes, each with the 3-second budget Graph gives, and records the outcome.
    /// Pub/Sub pushes carry an OIDC token, as a push subscription with authentication sends them.
    func deliver(_ posts: [OutboundPost]) async {
        for post in posts {
            await deliver(post, attempt: 0)
        }
    }

    /// Redeliveries of a post the receiver did not take (no answer, or a 5xx: "try again later"), after 1, 2, 4, 8
    /// and 16 s: Graph retries a notification for up to four hours and Pub/Sub a push until it is acknowledged,
    /// compressed here into half a minute. A 4xx is the receiver's refusal and is not sent again.
    static let redeliveries = 5

    private func deliver(_ post: OutboundPost, attempt: Int) async {
        var record = DeliveryRecord(kind: post.kind, url: post.url, body: post.body)
        var headers: HTTPHeaders = ["Content-Type": post.contentType]
        if let audience = post.pushAudience, let token = pushToken(post.pushToken, audience: audience) {
            headers.add("Authorization", "Bearer \(token)")
        }
        let reply = try? await client.send(HTTPRequest(method: "POST", url: post.url, headers: headers,
                                                       body: Data(post.body.utf8), totalTimeout: .seconds(3)))
        record.status = reply?.status
        world.withLock { $0.deliveries.append(record) }
        guard attempt < Self.redeliveries, (reply?.status ?? 500) >= 500 else { return }
        // Unstructured on purpose: the provider redelivers on its own schedule, whatever request led to the post;
        // it ends after its last attempt (or at once when the simulator stops and its client is shut down).
        Task {
            try? await Task.sleep(for: .seconds(1 << attempt))
            await self.deliver(post, attempt: attempt + 1)
        }
    }

    /// The token a push carries under `mode`; nil: none.
    private func pushToken(_ mode: SimulatorKnobs.GmailPushToken, audience: String) -> String? {
        switch mode {
        case .oidc: try? pubsub.token(audience: audience)
        case .absent: nil
        case .foreignKey: try? pubsub.token(audience: audience, signer: .foreign)
        case .expired:
            try? pubsub.token(audience: audience, issuedAt: Date().addingTimeInterval(-2 * PubSubSigner.tokenLifetime),
                              expiresAt: Date().addingTimeInterval(-PubSubSigner.tokenLifetime))
        }
    }

    /// `/_sim/pubsub/...`: `GET keys` (the current key id, JWKS fetches), `POST rotate-key`, and `POST token`,
    /// which signs a push token with any claims (`audience` required; `email`, `emailVerified`, `issuer`,
    /// `issuedAt` and `expiresAt` in Unix seconds, `signer`: published or foreign, `kid`).
    private func pubsubControl(_ request: SimRequest, action: [String]) -> SimResponse {
        do {
            switch (request.method, action) {
            case ("GET", ["keys"]):
                return .json(200, object: try pubsub.status())
            case ("POST", ["rotate-key"]):
                return .json(200, object: ["kid": try pubsub.rotate()])
            case ("POST", ["token"]):
                let body = request.jsonBody ?? [:]
                guard let audience = body["audience"] as? String else {
                    return .json(400, object: ["error": ["code": "SimulatorControl", "message": "audience required"]])
                }
                let time = { (key: String) in (body[key] as? Double).map { Date(timeIntervalSince1970: $0) } }
                let token = try pubsub.token(
                    audience: audience, email: body["email"] as? String ?? PubSubSigner.serviceAccount,
                    emailVerified: body["emailVerified"] as? Bool ?? true, issuer: body["issuer"] as? String ?? PubSubSigner.issuer,
                    issuedAt: time("issuedAt") ?? Date(), expiresAt: time("expiresAt"),
                    signer: (body["signer"] as? String).flatMap(PubSubSigner.Signer.init(rawValue:)) ?? .published,
                    kid: body["kid"] as? String
                )
                return .json(200, object: ["token": token])
            default:
                return .json(404, object: ["error": ["code": "SimulatorControl", "message": "no such pubsub control route"]])
            }
        } catch {
            return .json(500, object: ["error": ["code": "SimulatorControl", "message": "signing failed: \(error)"]])
        }
    }

    func sleep(milliseconds: Int) async {
        guard milliseconds > 0 else { return }
        try? await Task.sleep(for: .milliseconds(milliseconds))
    }
}

extension SimulatorWorld {
    /// This request's added latency from the knobs.
    func latency() -> Int {
        guard knobs.latencyMs > 0 || knobs.latencyJitterMs > 0 else { return 0 }
        return knobs.latencyMs + (knobs.latencyJitterMs > 0 ? Int(faultRandom.next() % UInt64(knobs.latencyJitterMs + 1)) : 0)
    }
}
