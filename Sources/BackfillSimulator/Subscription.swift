import Foundation

/// A Graph change-notification subscription (docs/providers.md, Graph subscriptions).
struct Subscription {
    let id: String
    let resource: String
    let mailbox: Int
    /// The watched folder; nil watches the whole mailbox.
    let folder: Int?
    let changeTypes: Set<String>
    let notificationURL: String
    let lifecycleURL: String?
    let clientState: String?
    var expiration: Date
    let immutableIDs: Bool
    /// Who made it: the signed-in user's id (delegated) or the app's service principal id (app-only).
    var creatorID = ""

    var json: [String: Any] {
        var object: [String: Any] = [
            "id": id, "resource": resource, "changeType": changeTypes.sorted().joined(separator: ","),
            "notificationUrl": notificationURL, "expirationDateTime": ISOTime.format(expiration),
            "applicationId": "backfill", "includeResourceData": false, "latestSupportedTlsVersion": "v1_2",
            "creatorId": creatorID,
        ]
        object["clientState"] = clientState
        object["lifecycleNotificationUrl"] = lifecycleURL
        return object
    }
}

/// An HTTP POST the simulator owes a client: a notification, a validation request, or a Pub/Sub push.
struct OutboundPost: Sendable {
    let kind: String
    let url: String
    let contentType: String
    let body: String
    /// A Pub/Sub push's OIDC token audience; nil: the post carries no token (Graph's posts).
    var pushAudience: String? = nil
    /// How the push's token is made (the `gmailPushToken` knob when it was queued).
    var pushToken: SimulatorKnobs.GmailPushToken = .oidc
}
