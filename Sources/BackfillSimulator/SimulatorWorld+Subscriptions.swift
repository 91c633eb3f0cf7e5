import Foundation

/// Graph subscriptions and Gmail pushes: what to send when mail changes.
extension SimulatorWorld {
    /// Checks a subscription request; the engine then runs the validation handshake before `store`. A delegated
    /// token subscribes only to its own mailbox (403 elsewhere, shared mailboxes included); an app token with
    /// `Mail.Read` to any mailbox of the tenant (docs/providers.md, Graph addressing).
    func prepareSubscription(_ request: SimRequest, mailbox principalMailbox: Int?, principal: Principal)
        -> Result<Subscription, SimResponse>
    {
        guard let body = request.jsonBody, let resource = body["resource"] as? String,
              let url = body["notificationUrl"] as? String, let changeType = body["changeType"] as? String,
              let expirationText = body["expirationDateTime"] as? String,
              let expiration = ISOTime.parse(expirationText)
        else { return .failure(GraphErrors.badRequest("Invalid subscription request.", code: "InvalidRequest")) }
        if knobs.requireHTTPSNotificationURL, !url.lowercased().hasPrefix("https://") {
            return .failure(GraphErrors.badRequest("The notification URL must use https.", code: "InvalidRequest"))
        }
        if let state = body["clientState"] as? String, state.count > 128 {
            return .failure(GraphErrors.badRequest("clientState is longer than 128 characters.", code: "InvalidRequest"))
        }
        let maxExpiry = now.addingTimeInterval(TimeInterval(knobs.graphSubscriptionMaxMinutes * 60))
        let asked = Date(timeIntervalSince1970: TimeInterval(expiration))
        guard asked <= maxExpiry.addingTimeInterval(60), asked > now else {
            return .failure(GraphErrors.badRequest("Subscription expiration can only be 10080 minutes in the future.",
                                                   code: "InvalidRequest"))
        }
        let expires = grantedExpiry(asked)
        guard let path = Self.graphPath("/" + resource.trimmingCharacters(in: CharacterSet(charactersIn: "/"))) else {
            return .failure(GraphErrors.badRequest("Invalid resource.", code: "InvalidRequest"))
        }
        let target: Int
        switch graphMailbox(path.mailboxName, principal: principal) {
        case let .success(index): target = index
        case let .failure(response): return .failure(response)
        }
        if case .user = principal, target != principalMailbox {
            return .failure(GraphErrors.accessDenied)
        }
        var folder: Int?
        if path.rest.count >= 3, path.rest[0].lowercased() == "mailfolders" {
            guard let index = mailboxes[target].folderIndex(named: path.rest[1]) else { return .failure(GraphErrors.itemNotFound) }
            folder = index
        }
        return .success(Subscription(
            id: UUID(uuidString: Mailbox.guid(from: nextCounter() ^ scenario.seed))?.uuidString.lowercased() ?? opaqueToken(),
            resource: resource, mailbox: target, folder: folder,
            changeTypes: Set(changeType.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }),
            notificationURL: url, lifecycleURL: body["lifecycleNotificationUrl"] as? String,
            clientState: body["clientState"] as? String, expiration: expires, immutableIDs: request.wantsImmutableIDs,
            creatorID: creatorID(of: principal)))
    }

    private func creatorID(of principal: Principal) -> String {
        switch principal {
        case .app: appServicePrincipalID
        case let .user(address): mailbox(named: address).map { mailboxes[$0].userID } ?? address
        }
    }

    /// The mailbox whose limits a `/subscriptions` call counts against: the caller's own for a delegated token;
    /// for an app token (which has no mailbox) the one the new subscription watches, or the one an existing
    /// subscription watches, else the tenant's first.
    func subscriptionCallMailbox(_ request: SimRequest, path: String, principal: Principal) -> Int? {
        if case let .user(address) = principal { return mailbox(named: address) }
        let parts = path.split(separator: "/").map(String.init)
        if parts.count >= 2, let existing = subscriptions[parts[1]] { return existing.mailbox }
        if request.method == "POST", parts.count == 1, let resource = request.jsonBody?["resource"] as? String,
           let name = Self.graphPath("/" + resource.trimmingCharacters(in: CharacterSet(charactersIn: "/")))?.mailboxName,
           let index = mailbox(named: name), mailboxes[index].isGraph {
            return index
        }
        return mailboxes.firstIndex(where: \.isGraph)
    }

    func handleSubscription(_ request: SimRequest, rest: [String]) -> SimResponse {
        guard rest.count >= 2, var subscription = subscriptions[rest[1]], subscription.expiration > now else {
            if request.method == "GET", rest.count == 1 {
                let live = subscriptions.values.filter { $0.expiration > now }.map(\.json)
                return .json(200, object: ["value": live])
            }
            return GraphErrors.error(404, code: "ResourceNotFound", message: "The object was not found.")
        }
        switch (request.method, rest.count) {
        case ("GET", 2):
            return .json(200, object: subscription.json)
        case ("PATCH", 2):
            guard let text = request.jsonBody?["expirationDateTime"] as? String, let seconds = ISOTime.parse(text),
                  TimeInterval(seconds) <= now.timeIntervalSince1970 + TimeInterval(knobs.graphSubscriptionMaxMinutes * 60) + 60
            else { return GraphErrors.badRequest("Invalid expirationDateTime.", code: "InvalidRequest") }
            subscription.expiration = grantedExpiry(Date(timeIntervalSince1970: TimeInterval(seconds)))
            subscriptions[subscription.id] = subscription
            return .json(200, object: subscription.json)
        case ("DELETE", 2):
            subscriptions[subscription.id] = nil
            return SimResponse(status: 204)
        case ("POST", 3) where rest[2].lowercased() == "reauthorize":
            return SimResponse(status: 204)
        default:
            return GraphErrors.badRequest("Unsupported subscription request.")
        }
    }

    /// The expiry a subscription gets when it asks for `asked`: that, or at most the compressed lifetime
    /// (`graphSubscriptionLifetimeSeconds`).
    func grantedExpiry(_ asked: Date) -> Date {
        guard knobs.graphSubscriptionLifetimeSeconds > 0 else { return asked }
        return min(asked, now.addingTimeInterval(knobs.graphSubscriptionLifetimeSeconds))
    }

    /// Notifications for mail changes after `changeMark` and history after `historyMark` in a mailbox, less the
    /// ones lost and plus the ones repeated (`notificationDropPercent`, `notificationDuplicatePercent`).
    func notifications(mailbox index: Int, changesFrom changeMark: Int, historyFrom historyMark: Int) -> [OutboundPost] {
        let mailbox = mailboxes[index]
        var posts: [OutboundPost] = []
        for subscription in subscriptions.values where subscription.mailbox == index && subscription.expiration > now {
            var items: [[String: Any]] = []
            for change in mailbox.changes[changeMark...] {
                guard subscription.folder == nil || subscription.folder == change.folder else { continue }
                let type = change.kind == .created ? "created" : "deleted"
                guard subscription.changeTypes.contains(type) else { continue }
                let id = mailbox.graphID(of: change.message, immutable: subscription.immutableIDs)
                var item: [String: Any] = [
                    "subscriptionId": subscription.id, "changeType": type, "tenantId": scenario.tenantID,
                    "subscriptionExpirationDateTime": ISOTime.format(subscription.expiration),
                    "resource": "Users/\(mailbox.userID)/Messages/\(id)",
                    "resourceData": ["@odata.type": "#Microsoft.Graph.Message",
                                     "@odata.id": "Users/\(mailbox.userID)/Messages/\(id)", "id": id],
                ]
                item["clientState"] = subscription.clientState
                items.append(item)
            }
            if !items.isEmpty { posts.append(post("graph.notification", subscription.notificationURL, ["value": items])) }
        }
        if let watch = watches[index], watch.expiration > now.timeIntervalSince1970 * 1000,
           let endpoint = pubsubEndpoints[watch.topicName], historyMark < mailbox.history.count {
            let relevant = mailbox.history[historyMark...].contains { record in
                guard !watch.labelIDs.isEmpty else { return true }
                let labels = Set(mailbox.labels(of: mailbox.messages[record.message]) + record.labels)
                return watch.exclude ? labels.isDisjoint(with: watch.labelIDs) : !labels.isDisjoint(with: watch.labelIDs)
            }
            if relevant {
                let historyID: Any = knobs.gmailPushHistoryIdAsString ? String(mailbox.historyID) : mailbox.historyID
                let data = (try? JSONSerialization.data(withJSONObject: ["emailAddress": mailbox.address, "historyId": historyID])) ?? Data()
                let messageID = String(nextCounter() + 9_000_000_000)
                let published = ISOTime.format(now)
                var push = post("gmail.push", endpoint, [
                    "message": ["data": data.base64EncodedString(), "messageId": messageID, "message_id": messageID,
                                "publishTime": published, "publish_time": published, "attributes": [String: String]()],
                    "subscription": "projects/backfill-sim/subscriptions/gmail-push",
                ])
                // Signed at delivery (`SimulatorEngine.deliver`), outside the world's lock.
                push.pushAudience = knobs.gmailPushAudience.isEmpty ? endpoint : knobs.gmailPushAudience
                push.pushToken = knobs.gmailPushToken
                posts.append(push)
            }
        }
        return unreliable(posts)
    }

    /// Change notifications as providers deliver them: some never, some twice, at the knobs' shares (from the
    /// fault seed); counted for `GET /_sim/channels`.
    private func unreliable(_ posts: [OutboundPost]) -> [OutboundPost] {
        guard knobs.notificationDropPercent > 0 || knobs.notificationDuplicatePercent > 0 else { return posts }
        var delivered: [OutboundPost] = []
        for post in posts {
            let roll = faultRandom.unit() * 100
            if roll < knobs.notificationDropPercent {
                notificationsDropped += 1
                continue
            }
            delivered.append(post)
            if roll < knobs.notificationDropPercent + knobs.notificationDuplicatePercent {
                notificationsDuplicated += 1
                delivered.append(post)
            }
        }
        return delivered
    }

    /// `GET /_sim/channels`: every subscription and watch with its mailbox and expiry (live or not), and the
    /// notifications lost and repeated so far.
    func channels() -> [String: Any] {
        let now = self.now
        let listed = subscriptions.values.sorted { $0.id < $1.id }.map { subscription -> [String: Any] in
            ["id": subscription.id, "mailbox": mailboxes[subscription.mailbox].address,
             "expirationDateTime": ISOTime.format(subscription.expiration), "live": subscription.expiration > now]
        }
        let watched = watches.keys.sorted().compactMap { index -> [String: Any]? in
            guard let watch = watches[index] else { return nil }
            let expiry = Date(timeIntervalSince1970: watch.expiration / 1000)
            return ["mailbox": mailboxes[index].address, "expiration": ISOTime.format(expiry), "live": expiry > now]
        }
        return ["subscriptions": listed, "watches": watched, "notificationsDropped": notificationsDropped,
                "notificationsDuplicated": notificationsDuplicated]
    }

    /// A lifecycle event (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) for a subscription.
    func lifecycleEvent(_ event: String, subscription id: String) -> OutboundPost? {
        guard let subscription = subscriptions[id], let url = subscription.lifecycleURL else { return nil }
        if event == "subscriptionRemoved" { subscriptions[id] = nil }
        var item: [String: Any] = ["subscriptionId": id, "tenantId": scenario.tenantID, "lifecycleEvent": event,
                                   "subscriptionExpirationDateTime": ISOTime.format(subscription.expiration)]
        item["clientState"] = subscription.clientState
        return post("graph.lifecycle", url, ["value": [item]])
    }

    private func post(_ kind: String, _ url: String, _ object: [String: Any]) -> OutboundPost {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return OutboundPost(kind: kind, url: url, contentType: "application/json", body: String(decoding: data, as: UTF8.self))
    }
}
