/// What a Gmail `pageToken` stands for: a listing of one mailbox with its query, from a position on.
struct GmailPageState {
    let mailbox: Int
    /// The request's query (q, labelIds, ...) in a canonical form: a token only works with the same query.
    let queryKey: String
    /// Messages list: the next message index to look at (walking newest first). History: the record offset.
    let position: Int
}

/// A Gmail `users.watch` registration.
struct GmailWatch {
    let topicName: String
    let labelIDs: [String]
    let exclude: Bool
    let expiration: Double
}
