import Foundation

/// The control API under `/_sim/` for tests and the demo: tokens, mail and folder changes, revocations, knobs, clock,
/// cursors, faults, the journal, statistics and the expected backfill set.
extension SimulatorWorld {
    func handleControl(_ request: SimRequest, segments: [String]) -> (SimResponse, [OutboundPost]) {
        let body = request.jsonBody ?? [:]
        if segments.count >= 2, segments[0] == "mailboxes" {
            guard let index = mailbox(named: segments[1]) else { return (controlError(404, "no such mailbox"), []) }
            return mailboxControl(request.method, index: index, action: Array(segments.dropFirst(2)), request: request,
                                  body: body)
        }
        if segments.count == 2, segments[0] == "sink" {
            return (sink(request, name: segments[1]), [])
        }
        if request.method == "POST", segments.count == 3, segments[0] == "subscriptions", segments[2] == "lifecycle" {
            guard let event = body["event"] as? String, let post = lifecycleEvent(event, subscription: segments[1]) else {
                return (controlError(404, "no such subscription with a lifecycle URL"), [])
            }
            return (SimResponse(status: 202), [post])
        }
        switch (request.method, segments) {
        case ("GET", ["health"]):
            return (.json(200, object: ["status": "ok", "now": ISOTime.format(now), "accessTokensIssued": tokens.access.count]), [])
        case ("GET", ["mailboxes"]):
            return (.json(200, object: ["value": mailboxes.map(summary)]), [])
        case ("GET", ["knobs"]):
            return (.json(200, object: knobsObject()), [])
        case ("PATCH", ["knobs"]):
            do {
                knobs = try knobs.patched(with: request.body)
                return (.json(200, object: knobsObject()), [])
            } catch {
                return (controlError(400, "\(error)"), [])
            }
        case ("GET", ["clock"]):
            return (.json(200, object: ["now": ISOTime.format(now)]), [])
        case ("POST", ["clock", "advance"]):
            guard let seconds = body["seconds"] as? Double else { return (controlError(400, "seconds required"), []) }
            clock.advance(by: seconds)
            return (.json(200, object: ["now": ISOTime.format(now)]), [])
        case ("POST", ["tokens"]):
            return (issueTokens(body), [])
        case ("POST", ["app", "revoke-consent"]), ("POST", ["app", "restore-consent"]):
            appConsentRevoked = segments[1] == "revoke-consent"
            return (SimResponse(status: 204), [])
        case ("POST", ["app", "disable"]), ("POST", ["app", "enable"]):
            appDisabled = segments[1] == "disable"
            return (SimResponse(status: 204), [])
        case ("GET", ["app"]):
            return (.json(200, object: [
                "tenantId": scenario.tenantID, "clientId": scenario.graphClientID, "servicePrincipalId": appServicePrincipalID,
                "consentRevoked": appConsentRevoked, "disabled": appDisabled, "tokenGrants": appTokenGrants,
            ]), [])
        case ("POST", ["cursors", "expire"]):
            let targets = (body["mailbox"] as? String).flatMap(mailbox(named:)).map { [$0] } ?? Array(mailboxes.indices)
            deltaStates = deltaStates.filter { !targets.contains($0.value.mailbox) }
            for index in targets { mailboxes[index].expireHistory() }
            return (SimResponse(status: 204), [])
        case ("POST", ["faults"]):
            guard let status = body["status"] as? Int else { return (controlError(400, "status required"), []) }
            queuedFaults.append(QueuedFault(mailbox: body["mailbox"] as? String, route: body["route"] as? String,
                                            path: body["path"] as? String, status: status, retryAfter: body["retryAfter"] as? Double,
                                            body: body["body"] as? String, remaining: body["count"] as? Int ?? 1))
            return (SimResponse(status: 204), [])
        case ("DELETE", ["faults"]):
            queuedFaults.removeAll()
            return (SimResponse(status: 204), [])
        case ("GET", ["journal"]):
            let name = request.parameter("mailbox")?.lowercased()
            let since = request.parameter("since").flatMap(Int.init) ?? 0
            let entries = journal[min(since, journal.count)...].filter { name == nil || $0.mailbox?.lowercased() == name }
            return (.json(200, object: ["value": entries.map(\.json)]), [])
        case ("DELETE", ["journal"]):
            journal.removeAll()
            return (SimResponse(status: 204), [])
        case ("GET", ["channels"]):
            return (.json(200, object: channels()), [])
        case ("GET", ["deliveries"]):
            return (.json(200, object: ["value": deliveries.map {
                ["kind": $0.kind, "url": $0.url, "body": $0.body, "status": $0.status ?? 0] as [String: Any]
            }]), [])
        case ("POST", ["pubsub"]):
            guard let topic = body["topicName"] as? String, let url = body["pushEndpoint"] as? String else {
                return (controlError(400, "topicName and pushEndpoint required"), [])
            }
            pubsubEndpoints[topic] = url
            return (SimResponse(status: 204), [])
        default:
            return (controlError(404, "no such control route"), [])
        }
    }

    private func mailboxControl(_ method: String, index: Int, action: [String], request: SimRequest,
                                body: [String: Any]) -> (SimResponse, [OutboundPost]) {
        let mailbox = mailboxes[index]
        let changeMark = mailbox.changes.count, historyMark = mailbox.history.count
        switch (method, action) {
        case ("GET", []):
            return (.json(200, object: summary(mailbox)), [])
        case ("GET", ["stats"]):
            return (.json(200, object: stats(mailbox)), [])
        case ("GET", ["expected"]):
            guard let start = request.parameter("start").flatMap(ISOTime.parse),
                  let end = request.parameter("end").flatMap(ISOTime.parse)
            else { return (controlError(400, "start and end (ISO 8601) required"), []) }
            let ids = mailbox.messages.indices.filter { index in
                let message = mailbox.messages[index]
                return mailbox.isBackfilled(message) && message.received >= start && message.received < end
            }.map { mailbox.isGraph ? mailbox.graphID(of: $0, immutable: true) : mailbox.gmailID(of: $0) }
            return (.json(200, object: ["count": ids.count, "ids": ids]), [])
        case ("POST", ["inject"]):
            var folder = mailbox.folder(.inbox)
            if let name = body["folder"] {
                switch controlFolder(mailbox, name as? String ?? "") {
                case let .success(named): folder = named
                case let .failure(response): return (response, [])
                }
            }
            let count = min(max(body["count"] as? Int ?? 1, 1), 10_000)
            let attachments: MailMessage.Attachments = switch body["attachments"] as? String {
            case "files": .files
            case "inlineOnly": .inlineOnly
            default: .none
            }
            let ids = (0 ..< count).map { _ in
                let added = mailbox.inject(into: folder, subject: body["subject"] as? String, attachments: attachments, at: now)
                return mailbox.isGraph ? mailbox.graphID(of: added, immutable: true) : mailbox.gmailID(of: added)
            }
            return (.json(200, object: ["ids": ids, "historyId": String(mailbox.historyID)]),
                    notifications(mailbox: index, changesFrom: changeMark, historyFrom: historyMark))
        case ("POST", ["move"]), ("POST", ["delete"]):
            guard let id = body["id"] as? String,
                  let message = mailbox.isGraph ? mailbox.messageIndex(graphID: id) : mailbox.messageIndex(gmailID: id)
            else { return (controlError(404, "no such message"), []) }
            if action == ["move"] {
                switch controlFolder(mailbox, body["folder"] as? String ?? "") {
                case let .success(folder): mailbox.move(message, to: folder, at: now)
                case let .failure(response): return (response, [])
                }
            } else {
                mailbox.delete(message, at: now)
            }
            return (.json(200, object: ["id": mailbox.isGraph ? mailbox.graphID(of: message, immutable: false) : id]),
                    notifications(mailbox: index, changesFrom: changeMark, historyFrom: historyMark))
        case ("POST", ["folders"]):
            return (createFolder(mailbox: index, body: body), [])
        case let ("DELETE", path) where path.count == 2 && path[0] == "folders":
            return deleteFolder(mailbox: index, id: path[1])
        case ("POST", ["revoke-tokens"]), ("POST", ["restore-tokens"]):
            tokens.revokeRefreshTokens(of: mailbox.address, revoked: action == ["revoke-tokens"])
            return (SimResponse(status: 204), [])
        case ("POST", ["revoke-grant"]), ("POST", ["restore-grant"]):
            mailbox.grantRevoked = action == ["revoke-grant"]
            return (SimResponse(status: 204), [])
        default:
            return (controlError(404, "no such mailbox control route"), [])
        }
    }

    /// A built-in webhook receiver for tests and demos: answers Graph's validation handshake by echoing the
    /// token, records every other POST body, and lists what it received on GET.
    private func sink(_ request: SimRequest, name: String) -> SimResponse {
        if request.method == "GET" {
            return .json(200, object: ["value": sinks[name] ?? []])
        }
        if let token = request.parameter("validationToken") {
            return .text(200, token)
        }
        sinks[name, default: []].append(String(decoding: request.body, as: UTF8.self))
        return SimResponse(status: 202)
    }

    /// New tokens for a personal mailbox (`{"mailbox": address}`), or an app-only Graph token (`{"app": true}`,
    /// with the app's consented roles, as client credentials would give).
    private func issueTokens(_ body: [String: Any]) -> SimResponse {
        let lifetime = TimeInterval(knobs.accessTokenLifetimeSeconds)
        if body["app"] as? Bool == true {
            let access = issueAppToken()
            return .json(200, object: ["accessToken": access, "expiresIn": knobs.accessTokenLifetimeSeconds,
                                       "roles": tokens.access[access]?.roles.sorted() ?? []])
        }
        guard let name = body["mailbox"] as? String, let index = mailbox(named: name),
              mailboxes[index].spec.kind == .personal
        else { return controlError(400, "mailbox must name a personal mailbox") }
        let provider: TokenRegistry.Provider = mailboxes[index].isGraph ? .microsoft : .google
        let address = mailboxes[index].address
        return .json(200, object: [
            "accessToken": tokens.issueAccess(provider: provider, principal: address, lifetime: lifetime, now: now),
            "refreshToken": tokens.issueRefresh(provider: provider, principal: address),
            "expiresIn": knobs.accessTokenLifetimeSeconds,
        ])
    }

    private func summary(_ mailbox: Mailbox) -> [String: Any] {
        var object: [String: Any] = [
            "address": mailbox.address, "provider": mailbox.spec.provider.rawValue, "kind": mailbox.spec.kind.rawValue,
            "userId": mailbox.userID, "messageCount": mailbox.messages.count, "historyId": String(mailbox.historyID),
            "grantRevoked": mailbox.grantRevoked,
            "folders": mailbox.folders.filter { !$0.isDeleted }.map {
                ["role": $0.role.rawValue, "id": $0.id, "displayName": $0.displayName, "messages": $0.messageCount] as [String: Any]
            },
        ]
        object["owner"] = mailbox.spec.owner
        return object
    }

    private func stats(_ mailbox: Mailbox) -> [String: Any] {
        var object: [String: Any] = [
            "inFlight": mailbox.traffic.inFlight, "maxInFlight": mailbox.traffic.maxInFlight,
            "violations": mailbox.traffic.violations, "requests": mailbox.traffic.requests,
        ]
        object["retryNotBefore"] = mailbox.traffic.retryNotBefore.map(ISOTime.format)
        return object
    }

    private func knobsObject() -> Any {
        (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(knobs))) ?? [:]
    }

    func controlError(_ status: Int, _ message: String) -> SimResponse {
        .json(status, object: ["error": ["code": "SimulatorControl", "message": message]])
    }
}
