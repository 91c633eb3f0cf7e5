import Foundation

/// The Gmail API: profile, labels, messages (list, get, attachments), history, watch (docs/providers.md, Gmail).
extension SimulatorWorld {
    /// Route name and quota cost of a Gmail path after `users/{userId}/`.
    static func gmailRoute(_ rest: [String]) -> (name: String, cost: Int) {
        switch (rest.count, rest.first ?? "") {
        case (1, "profile"): ("gmail.profile", 1)
        case (1, "labels"): ("gmail.labels.list", 1)
        case (2, "labels"): ("gmail.labels.get", 1)
        case (1, "messages"): ("gmail.messages.list", 5)
        case (2, "messages"): ("gmail.messages.get", 5)
        case (4, "messages") where rest[2] == "attachments": ("gmail.attachments.get", 5)
        case (1, "history"): ("gmail.history.list", 2)
        case (1, "watch"): ("gmail.watch", 100)
        case (1, "stop"): ("gmail.stop", 50)
        default: ("gmail.unknown", 1)
        }
    }

    func gmailMailbox(_ userID: String, principal: Principal) -> Result<Int, SimResponse> {
        guard case let .user(address) = principal else { return .failure(GmailErrors.unauthenticated()) }
        let name = userID == "me" ? address : userID
        guard name.lowercased() == address.lowercased() else {
            return .failure(GmailErrors.error(403, reason: "forbidden", message: "Delegation denied for \(address)",
                                              status: "PERMISSION_DENIED"))
        }
        guard let index = mailbox(named: name), !mailboxes[index].isGraph else {
            return .failure(GmailErrors.error(400, reason: "failedPrecondition", message: "Mail service not enabled",
                                              status: "FAILED_PRECONDITION"))
        }
        return .success(index)
    }

    func handleGmail(_ call: Call, request: SimRequest, rest: [String]) -> SimResponse {
        let mailbox = mailboxes[call.mailbox]
        switch call.route {
        case "gmail.profile":
            let total = mailbox.messages.reduce(0) { $0 + ($1.isDeleted ? 0 : 1) }
            return .json(200, object: ["emailAddress": mailbox.address, "messagesTotal": total,
                                       "threadsTotal": total * 2 / 3, "historyId": String(mailbox.historyID)])
        case "gmail.labels.list":
            return .json(200, object: ["labels": labelIDs.map { labelObject(mailbox, $0, counts: false) }])
        case "gmail.labels.get":
            guard labelIDs.contains(rest[1]) else { return GmailErrors.notFound }
            return .json(200, object: labelObject(mailbox, rest[1], counts: true))
        case "gmail.messages.list":
            return listGmail(call.mailbox, request: request)
        case "gmail.messages.get":
            guard let index = mailbox.messageIndex(gmailID: rest[1]) else { return GmailErrors.notFound }
            let format = request.parameter("format") ?? "full"
            guard ["minimal", "metadata", "full", "raw"].contains(format) else {
                return GmailErrors.invalidArgument("Invalid value at 'format'")
            }
            return .json(200, renderGmailMessage(mailbox, index, format: format,
                                                 headers: request.parameters("metadataHeaders")))
        case "gmail.attachments.get":
            guard let index = mailbox.messageIndex(gmailID: rest[1]),
                  let partNumber = rest[3].split(separator: "_").last.flatMap({ Int($0) }),
                  case let attachments = MessageContent(mailbox: mailbox, message: mailbox.messages[index]).attachments,
                  attachments.indices.contains(partNumber)
            else { return GmailErrors.notFound }
            let data = Data("simulated \(attachments[partNumber].name)".utf8)
            return .json(200, object: ["size": attachments[partNumber].size,
                                       "data": IdentifierCodec.base64URL(Array(data), padded: false)])
        case "gmail.history.list":
            return listHistory(call.mailbox, request: request)
        case "gmail.watch":
            guard request.method == "POST", let body = request.jsonBody, let topic = body["topicName"] as? String else {
                return GmailErrors.invalidArgument("Invalid topicName")
            }
            let expiration = ((now.timeIntervalSince1970 + knobs.gmailWatchLifetimeSeconds) * 1000).rounded(.down)
            watches[call.mailbox] = GmailWatch(
                topicName: topic, labelIDs: body["labelIds"] as? [String] ?? [],
                exclude: (body["labelFilterBehavior"] as? String)?.lowercased() == "exclude", expiration: expiration)
            return .json(200, object: ["historyId": String(mailbox.historyID), "expiration": String(Int64(expiration))])
        case "gmail.stop":
            watches[call.mailbox] = nil
            return SimResponse(status: 204)
        default:
            return GmailErrors.notFound
        }
    }

    private var labelIDs: [String] {
        ["INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "UNREAD", "STARRED", "IMPORTANT", "CATEGORY_PERSONAL",
         GmailLabel.projects.id, GmailLabel.receipts.id]
    }

    private func labelObject(_ mailbox: Mailbox, _ id: String, counts: Bool) -> [String: Any] {
        let user = [GmailLabel.projects, .receipts].first { $0.id == id }
        var object: [String: Any] = ["id": id, "name": user?.name ?? id, "type": user == nil ? "system" : "user",
                                     "messageListVisibility": "show", "labelListVisibility": "labelShow"]
        if counts {
            var total = 0, unread = 0
            for message in mailbox.messages where !message.isDeleted {
                let labels = mailbox.labels(of: message)
                if labels.contains(id) {
                    total += 1
                    if labels.contains("UNREAD") { unread += 1 }
                }
            }
            object["messagesTotal"] = total
            object["messagesUnread"] = unread
            object["threadsTotal"] = total * 2 / 3
            object["threadsUnread"] = unread
        }
        return object
    }

    // MARK: messages.list

    /// The part of Gmail search the simulator understands.
    struct GmailQuery {
        var after: Int64 = .min
        var before: Int64 = .max
        var labels: [String] = []
        var hasAttachment = false

        /// `after:`/`before:` take epoch seconds or `YYYY/MM/DD` (midnight America/Los_Angeles); `after:` is
        /// inclusive and `before:` exclusive, so windows [start, end) tile.
        init?(_ text: String, labelIDs: [String]) {
            labels = labelIDs
            for word in text.split(separator: " ").map(String.init) {
                let lowered = word.lowercased()
                if lowered.hasPrefix("after:") {
                    guard let value = Self.time(String(word.dropFirst(6))) else { return nil }
                    after = max(after, value)
                } else if lowered.hasPrefix("before:") {
                    guard let value = Self.time(String(word.dropFirst(7))) else { return nil }
                    before = min(before, value)
                } else if lowered.hasPrefix("in:") || lowered.hasPrefix("label:") {
                    let name = String(lowered.split(separator: ":", maxSplits: 1)[1])
                    switch name {
                    case "inbox": labels.append("INBOX")
                    case "sent": labels.append("SENT")
                    case "drafts", "draft": labels.append("DRAFT")
                    case "trash": labels.append("TRASH")
                    case "projects": labels.append(GmailLabel.projects.id)
                    case "receipts": labels.append(GmailLabel.receipts.id)
                    default: labels.append(name.uppercased())
                    }
                } else if lowered == "has:attachment" {
                    hasAttachment = true
                } else if lowered.hasPrefix("-in:") || lowered.isEmpty {
                    continue
                } else {
                    return nil
                }
            }
        }

        private static func time(_ text: String) -> Int64? {
            if let seconds = Int64(text) { return seconds }
            let parts = text.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 3 else { return nil }
            // Midnight Pacific: UTC-8 (UTC-7 in daylight time, approximated from March to October).
            let offset: Int64 = (4 ... 10).contains(parts[1]) ? 7 * 3600 : 8 * 3600
            return ISOTime.daysFromCivil(year: parts[0], month: parts[1], day: parts[2]) * 86_400 + offset
        }
    }

    private func listGmail(_ index: Int, request: SimRequest) -> SimResponse {
        let mailbox = mailboxes[index]
        let labelFilter = request.parameters("labelIds")
        guard let query = GmailQuery(request.parameter("q") ?? "", labelIDs: labelFilter) else {
            return GmailErrors.invalidArgument("Invalid query")
        }
        let includeSpamTrash = request.parameter("includeSpamTrash") == "true"
        var maxResults = request.parameter("maxResults").flatMap(Int.init) ?? 100
        maxResults = min(max(maxResults, 1), knobs.gmailMaxResults)
        let queryKey = "\(request.parameter("q") ?? "")|\(labelFilter.joined(separator: ","))|\(includeSpamTrash)"
        // Messages are in time order; walk newest first from the end of the query's time range.
        var position: Int
        if let token = request.parameter("pageToken") {
            guard let page = gmailPages[token], page.mailbox == index, page.queryKey == queryKey else {
                return GmailErrors.invalidArgument("Invalid pageToken")
            }
            position = page.position
        } else {
            position = Self.lowerBound(mailbox.messages, query.before) - 1
        }
        var ids: [(String, String)] = []
        var more = false
        while position >= 0 {
            let message = mailbox.messages[position]
            if message.received < query.after { position = -1; break }
            if matches(mailbox, message, query, includeSpamTrash: includeSpamTrash) {
                if ids.count == maxResults { more = true; break }
                let content = MessageContent(mailbox: mailbox, message: message)
                ids.append((mailbox.gmailID(of: position), mailbox.gmailID(of: max(content.conversationSerial, 0))))
            }
            position -= 1
        }
        var json = JSONText(capacity: 64 + ids.count * 64)
        json.beginObject()
        if !ids.isEmpty {
            json.beginArray("messages")
            for (id, thread) in ids {
                json.beginObject()
                json.string("id", id)
                json.string("threadId", thread)
                json.endObject()
            }
            json.endArray()
        }
        if more {
            let token = String(nextCounter() * 7919 + 1_000_000_000)
            gmailPages[token] = GmailPageState(mailbox: index, queryKey: queryKey, position: position)
            json.string("nextPageToken", token)
        }
        json.number("resultSizeEstimate", ids.isEmpty ? 0 : resultSizeEstimate(mailbox, query, includeSpamTrash: includeSpamTrash))
        json.endObject()
        return .json(200, json.text)
    }

    /// Gmail's "estimated total number of results" of the whole query, whatever the page: the simulator's is
    /// the count of the matching messages (Gmail's own can be off, so clients must not take it as a count).
    private func resultSizeEstimate(_ mailbox: Mailbox, _ query: GmailQuery, includeSpamTrash: Bool) -> Int {
        let low = query.after == .min ? 0 : Self.lowerBound(mailbox.messages, query.after)
        let high = query.before == .max ? mailbox.messages.count : Self.lowerBound(mailbox.messages, query.before)
        var count = 0
        for position in low ..< max(high, low) where matches(mailbox, mailbox.messages[position], query, includeSpamTrash: includeSpamTrash) {
            count += 1
        }
        return count
    }

    private func matches(_ mailbox: Mailbox, _ message: MailMessage, _ query: GmailQuery, includeSpamTrash: Bool) -> Bool {
        guard !message.isDeleted, message.received >= query.after, message.received < query.before else { return false }
        let labels = mailbox.labels(of: message)
        if !includeSpamTrash, labels.contains("TRASH") || labels.contains("SPAM") { return false }
        if query.hasAttachment, message.attachments == .none { return false }
        return query.labels.allSatisfy(labels.contains)
    }

    static func lowerBound(_ messages: [MailMessage], _ time: Int64) -> Int {
        var low = 0, high = messages.count
        while low < high {
            let mid = (low + high) / 2
            if messages[mid].received < time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    // MARK: messages.get

    private func renderGmailMessage(_ mailbox: Mailbox, _ index: Int, format: String, headers wanted: [String]) -> String {
        let message = mailbox.messages[index]
        let content = MessageContent(mailbox: mailbox, message: message)
        var json = JSONText(capacity: 2048)
        json.beginObject()
        json.string("id", mailbox.gmailID(of: index))
        json.string("threadId", mailbox.gmailID(of: max(content.conversationSerial, 0)))
        json.beginArray("labelIds")
        for label in mailbox.labels(of: message) { json.string(nil, label) }
        json.endArray()
        json.string("snippet", content.preview)
        json.string("historyId", String(message.historyID))
        json.string("internalDate", String(message.received * 1000 + Int64(message.serial % 1000)))
        json.number("sizeEstimate", 2_000 + content.attachments.reduce(0) { $0 + $1.size })
        let headers: [(String, String)] = [
            ("From", "\(content.fromName) <\(content.fromAddress)>"), ("To", content.toAddress),
            ("Subject", content.subject), ("Date", Self.rfc2822(message.received)),
            ("Message-ID", content.internetMessageID),
        ]
        switch format {
        case "metadata":
            json.beginObject("payload")
            json.string("partId", "")
            json.string("mimeType", content.attachments.isEmpty ? "multipart/alternative" : "multipart/mixed")
            let lowered = Set(wanted.map { $0.lowercased() })
            renderHeaders(headers.filter { lowered.isEmpty || lowered.contains($0.0.lowercased()) }, into: &json)
            json.endObject()
        case "full":
            renderPayload(content, headers: headers, into: &json)
        case "raw":
            let text = headers.map { "\($0.0): \($0.1)" }.joined(separator: "\r\n") + "\r\n\r\n" + content.preview
            json.string("raw", IdentifierCodec.base64URL(Array(text.utf8), padded: false))
        default:
            break
        }
        json.endObject()
        return json.text
    }

    /// The MIME tree: text parts, then attachments; attachment ids differ on every fetch, as Gmail's do.
    private func renderPayload(_ content: MessageContent, headers: [(String, String)], into json: inout JSONText) {
        let inlineOnly = !content.attachments.isEmpty && !content.hasFileAttachments
        json.beginObject("payload")
        json.string("partId", "")
        json.string("mimeType", content.attachments.isEmpty ? "multipart/alternative"
            : inlineOnly ? "multipart/related" : "multipart/mixed")
        json.string("filename", "")
        renderHeaders(headers, into: &json)
        json.beginObject("body")
        json.number("size", 0)
        json.endObject()
        json.beginArray("parts")
        let text = Data(content.preview.utf8), html = Data(content.bodyHTML.utf8)
        func textPart(_ id: String, _ type: String, _ data: Data) {
            json.beginObject()
            json.string("partId", id)
            json.string("mimeType", type)
            json.string("filename", "")
            json.beginArray("headers")
            json.endArray()
            json.beginObject("body")
            json.number("size", data.count)
            json.string("data", IdentifierCodec.base64URL(Array(data), padded: false))
            json.endObject()
            json.endObject()
        }
        if content.attachments.isEmpty {
            textPart("0", "text/plain", text)
            textPart("1", "text/html", html)
        } else {
            json.beginObject()
            json.string("partId", "0")
            json.string("mimeType", "multipart/alternative")
            json.string("filename", "")
            json.beginArray("headers")
            json.endArray()
            json.beginObject("body")
            json.number("size", 0)
            json.endObject()
            json.beginArray("parts")
            textPart("0.0", "text/plain", text)
            textPart("0.1", "text/html", html)
            json.endArray()
            json.endObject()
            for (number, attachment) in content.attachments.enumerated() {
                json.beginObject()
                json.string("partId", String(number + 1))
                json.string("mimeType", attachment.contentType)
                json.string("filename", attachment.name)
                var partHeaders = [("Content-Type", "\(attachment.contentType); name=\"\(attachment.name)\""),
                                   ("Content-Disposition", "\(attachment.isInline ? "inline" : "attachment"); filename=\"\(attachment.name)\"")]
                if let contentID = attachment.contentID { partHeaders.append(("Content-ID", "<\(contentID)>")) }
                renderHeaders(partHeaders, into: &json)
                json.beginObject("body")
                json.string("attachmentId", "ANGjdJ" + opaqueToken() + "_\(number)")
                json.number("size", attachment.size)
                json.endObject()
                json.endObject()
            }
        }
        json.endArray()
        json.endObject()
    }

    private func renderHeaders(_ headers: [(String, String)], into json: inout JSONText) {
        json.beginArray("headers")
        for (name, value) in headers {
            json.beginObject()
            json.string("name", name)
            json.string("value", value)
            json.endObject()
        }
        json.endArray()
    }

    static func rfc2822(_ seconds: Int64) -> String { MailDate.rfc2822(seconds) }

    // MARK: history.list

    /// The oldest start id still answered: older ones fell out of retention (or were expired by hand).
    func oldestValidHistoryID(_ mailbox: Mailbox) -> UInt64 {
        let cutoff = now.addingTimeInterval(-knobs.gmailHistoryRetentionSeconds)
        let expired = mailbox.history.last { $0.time < cutoff }?.id ?? 0
        return max(expired, mailbox.historyFloor)
    }

    private func listHistory(_ index: Int, request: SimRequest) -> SimResponse {
        let mailbox = mailboxes[index]
        guard let start = request.parameter("startHistoryId").flatMap(UInt64.init), start > 0 else {
            return GmailErrors.invalidArgument("Invalid startHistoryId")
        }
        guard start >= oldestValidHistoryID(mailbox) else { return GmailErrors.notFound }
        let types = Set(request.parameters("historyTypes"))
        let label = request.parameter("labelId")
        let maxResults = min(max(request.parameter("maxResults").flatMap(Int.init) ?? 100, 1), 500)
        let queryKey = "history|\(start)|\(types.sorted())|\(label ?? "")"
        var offset = mailbox.history.firstIndex { $0.id > start } ?? mailbox.history.count
        if let token = request.parameter("pageToken") {
            guard let page = gmailPages[token], page.mailbox == index, page.queryKey == queryKey else {
                return GmailErrors.invalidArgument("Invalid pageToken")
            }
            offset = page.position
        }
        var records: [[String: Any]] = []
        while offset < mailbox.history.count, records.count < maxResults {
            let record = mailbox.history[offset]
            offset += 1
            if !types.isEmpty, !types.contains(record.kind.rawValue) { continue }
            let message = mailbox.messages[record.message]
            let labels = mailbox.labels(of: message)
            if let label, !labels.contains(label), !record.labels.contains(label) { continue }
            let reference: [String: Any] = [
                "id": mailbox.gmailID(of: record.message),
                "threadId": mailbox.gmailID(of: max(MessageContent(mailbox: mailbox, message: message).conversationSerial, 0)),
                "labelIds": labels,
            ]
            var entry: [String: Any] = ["id": String(record.id), "messages": [reference]]
            switch record.kind {
            case .messageAdded: entry["messagesAdded"] = [["message": reference]]
            case .messageDeleted: entry["messagesDeleted"] = [["message": reference]]
            case .labelAdded: entry["labelsAdded"] = [["message": reference, "labelIds": record.labels]]
            case .labelRemoved: entry["labelsRemoved"] = [["message": reference, "labelIds": record.labels]]
            }
            records.append(entry)
        }
        var object: [String: Any] = ["historyId": String(mailbox.historyID)]
        if !records.isEmpty { object["history"] = records }
        if offset < mailbox.history.count {
            let token = String(nextCounter() * 7919 + 2_000_000_000)
            gmailPages[token] = GmailPageState(mailbox: index, queryKey: queryKey, position: offset)
            object["nextPageToken"] = token
        }
        return .json(200, object: object)
    }
}
