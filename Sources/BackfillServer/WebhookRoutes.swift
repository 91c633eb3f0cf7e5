import BackfillCore
import BackfillProviders
import BackfillScheduler
import Foundation
import Hummingbird
import Logging

/// Provider notifications. They only mark connections dirty and nudge them (`Scheduler.notify`, which
/// leaves a connection a worker holds to that worker, so a flood pushes one nudge): the holder of the
/// connection's lease runs the catch-up. Not behind the API token (providers cannot send it); Graph
/// notifications are checked against the subscription's `clientState` instead, Gmail pushes against
/// Pub/Sub's OIDC token or a secret in the push URL (`GmailPushAuthentication`).
struct WebhookRoutes: Sendable {
    /// The sync-state fields the Graph provider writes and these routes read.
    /// Graph's `clientState` for the connection, sealed like the tokens (`graph.clientState` held it in
    /// plain text before; the keeper moves it over).
    static let graphClientStateField = "graph.clientState.sealed"
    static let legacyGraphClientStateField = "graph.clientState"
    static let graphLifecycleField = GraphProvider.lifecycleSyncKey
    static let lifecycleEvents: Set<String> = ["missed", "subscriptionRemoved", "reauthorizationRequired"]

    let directory: RedisConnectionDirectory
    let scheduler: Scheduler
    /// Makes a subscription anew when Graph says it was removed or needs authorizing again.
    let keeper: SubscriptionKeeper?
    let body: RequestBodyReader
    /// How Gmail pushes are authenticated; `verifier` checks the OIDC token when that method is configured.
    let gmailPush: GmailPushAuthentication
    let verifier: GmailPushVerifier?
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.post("/webhooks/graph") { request, _ in try await graph(request) }
        router.post("/webhooks/gmail") { request, _ in try await gmail(request) }
    }

    // MARK: Graph

    private struct GraphNotifications: Decodable {
        struct Notification: Decodable {
            var subscriptionId: String
            var clientState: String?
            var changeType: String?
            var resource: String?
            var lifecycleEvent: String?
        }

        var value: [Notification]
    }

    /// Graph's `validationToken`, form-decoded: Graph writes spaces as `+`, which Hummingbird's
    /// `queryParameters` leaves as they are (it only undoes percent escapes).
    static func validationToken(in query: String?) -> String? {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "validationToken" else { continue }
            let value = parts[1].replacingOccurrences(of: "+", with: " ")
            return value.removingPercentEncoding ?? value
        }
        return nil
    }

    private func graph(_ request: Request) async throws -> Response {
        // The subscription handshake comes first: Graph waits 10 s for the token, echoed as plain text.
        if let token = Self.validationToken(in: request.uri.query) {
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: token))
            )
        }
        let data = try await body.data(of: request)
        guard let notifications = try? JSONDecoder().decode(GraphNotifications.self, from: data) else {
            throw APIError(.badRequest, code: "invalid_notification",
                           message: "expected a Graph notification collection: {\"value\": [{\"subscriptionId\", \"clientState\", ...}]}")
        }
        for notification in notifications.value {
            guard let id = try await directory.connectionId(subscriptionId: notification.subscriptionId) else {
                logger.notice("graph notification for an unknown subscription ignored")
                continue
            }
            var expected = try await directory.secret(Self.graphClientStateField, for: id)
            if expected == nil { expected = try await directory.syncState(for: id)[Self.legacyGraphClientStateField] }
            guard let expected, let sent = notification.clientState, SecretComparison.equal(expected, sent) else {
                logger.warning("graph notification with a wrong clientState ignored", metadata: ["connection": "\(id)"])
                continue
            }
            if let event = notification.lifecycleEvent {
                guard Self.lifecycleEvents.contains(event) else { continue }
                try await directory.updateSyncState([Self.graphLifecycleField: event], for: id)
                logger.notice("graph lifecycle event", metadata: ["connection": "\(id)", "event": "\(event)"])
                if GraphProvider.lapsingLifecycleEvents.contains(event), let keeper, let connection = try await directory.connection(id) {
                    await keeper.ensure(connection)
                }
            }
            try await scheduler.notify(id)
        }
        return Response(status: .accepted)
    }

    // MARK: Gmail

    private struct PushEnvelope: Decodable {
        struct Message: Decodable {
            var data: String
            var messageId: String?
        }

        var message: Message
        var subscription: String?
    }

    private struct GmailNotification: Decodable {
        var emailAddress: String
        var historyId: HistoryId
    }

    /// Gmail sends `historyId` as a number; accept a string too.
    private struct HistoryId: Decodable {
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if (try? container.decode(UInt64.self)) == nil { _ = try container.decode(String.self) }
        }
    }

    private func gmail(_ request: Request) async throws -> Response {
        try await authenticateGmailPush(request)
        let data = try await body.data(of: request)
        guard let envelope = try? JSONDecoder().decode(PushEnvelope.self, from: data),
              let payload = Data(base64Encoded: Self.paddedBase64(envelope.message.data)),
              let notification = try? JSONDecoder().decode(GmailNotification.self, from: payload)
        else {
            throw APIError(.badRequest, code: "invalid_notification",
                           message: "expected a Pub/Sub push: {\"message\": {\"data\": base64 of {\"emailAddress\", \"historyId\"}}}")
        }
        var known = false
        if let id = try await directory.connectionId(provider: .gmail, address: notification.emailAddress) {
            known = try await scheduler.notify(id)
        }
        if !known {
            // Acknowledged anyway: Pub/Sub would redeliver an unacknowledged push for days.
            logger.notice("gmail notification for an unknown mailbox ignored")
        }
        return Response(status: .noContent)
    }

    /// Refuses a push that does not prove it comes from the operator's Pub/Sub subscription: every configured
    /// method must pass. The token itself is never logged or quoted.
    private func authenticateGmailPush(_ request: Request) async throws {
        func refuse(_ message: String) -> APIError {
            logger.warning("gmail push refused", metadata: ["reason": "\(message)"])
            return APIError(.unauthorized, code: "unauthorized", message: message)
        }
        guard gmailPush.isConfigured else {
            throw refuse("Gmail pushes are refused: this service has no push authentication configured (an OIDC audience and service account, or a URL token)")
        }
        if let expected = gmailPush.urlToken {
            guard let sent = request.uri.queryParameters.get("token"), SecretComparison.equal(expected, sent) else {
                throw refuse("the push URL carries no valid token (?token=)")
            }
        }
        if let verifier {
            guard let token = Self.bearerToken(request.headers[.authorization]) else {
                throw refuse("the push carries no valid Google OIDC token: there is no Authorization: Bearer header")
            }
            do {
                try await verifier.verify(token)
            } catch let rejection as GmailPushVerifier.Rejection {
                throw refuse("the push carries no valid Google OIDC token: \(rejection.reason)")
            } catch let unavailable as GmailPushVerifier.KeysUnavailable {
                logger.warning("gmail push not verified", metadata: ["reason": "\(unavailable.reason)"])
                // Not the sender's fault: Pub/Sub sends the push again later.
                throw APIError(.serviceUnavailable, code: "unavailable",
                               message: "the push cannot be verified now: \(unavailable.reason)")
            }
        }
    }

    /// The token of an `Authorization: Bearer <token>` header.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Pub/Sub may send base64 with or without padding, standard or URL-safe.
    static func paddedBase64(_ text: String) -> String {
        let standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return standard + String(repeating: "=", count: (4 - standard.count % 4) % 4)
    }
}
