import Foundation

/// Microsoft Graph mail: folders, messages (list, count, get), attachments, delta (docs/providers.md, Graph).
extension SimulatorWorld {
    /// A Graph path split after its mailbox: `/me/mailFolders/inbox/messages` → (me, [mailFolders, inbox, messages]).
    struct GraphPath {
        let mailboxName: String?
        let rest: [String]
    }

    static func graphPath(_ path: String) -> GraphPath? {
        var segments = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        // `mailFolders('inbox')` is the key syntax of the same path.
        segments = segments.flatMap { segment -> [String] in
            if let open = segment.firstIndex(of: "("), segment.hasSuffix(")") {
                let key = segment[segment.index(after: open) ..< segment.index(before: segment.endIndex)]
                return [String(segment[..<open]), key.trimmingCharacters(in: CharacterSet(charactersIn: "'"))]
            }
            return [segment]
        }
        guard let first = segments.first else { return nil }
        if first.lowercased() == "me" { return GraphPath(mailboxName: nil, rest: Array(segments.dropFirst())) }
        if first.lowercased() == "users", segments.count >= 2 {
            return GraphPath(mailboxName: segments[1], rest: Array(segments.dropFirst(2)))
        }
        return nil
    }

    /// The route name the journal and queued faults use.
    static func graphRouteName(_ rest: [String]) -> String {
        let lowered = rest.map { $0.lowercased() }
        switch lowered.count {
        case 0: return "graph.user.get"
        case 1 where lowered[0] == "mailfolders": return "graph.folders.list"
        case 1 where lowered[0] == "messages": return "graph.messages.list"
        case 2 where lowered[0] == "mailfolders": return "graph.folders.get"
        case 2 where lowered[0] == "messages": return "graph.messages.get"
        case 3 where lowered[2] == "childfolders": return "graph.folders.children"
        case 3 where lowered[2] == "messages": return "graph.messages.list"
        case 3 where lowered[2] == "attachments": return "graph.attachments.list"
        case 4 where lowered[3] == "$count": return "graph.messages.count"
        case 4 where lowered[3] == "delta": return "graph.messages.delta"
        default: return "graph.unknown"
        }
    }

    /// Resolves the addressed mailbox for a principal, or the error Graph gives.
    func graphMailbox(_ name: String?, principal: Principal) -> Result<Int, SimResponse> {
        switch (name, principal) {
        case (nil, .app):
            return .failure(GraphErrors.badRequest("/me request is only valid with delegated authentication flow."))
        case let (nil, .user(address)):
            return mailbox(named: address).map { .success($0) } ?? .failure(GraphErrors.invalidUser(address))
        case let (name?, _):
            guard let index = mailbox(named: name), mailboxes[index].isGraph else {
                return .failure(GraphErrors.invalidUser(name))
            }
            guard case let .user(address) = principal else { return .success(index) }
            let target = mailboxes[index]
            if target.address.lowercased() == address.lowercased() { return .success(index) }
            if target.spec.kind == .shared, target.spec.owner?.lowercased() == address.lowercased(),
               !target.grantRevoked {
                return .success(index)
            }
            return .failure(GraphErrors.accessDenied)
        }
    }

    func handleGraph(_ call: Call, request: SimRequest, path: GraphPath, prefix: String) -> SimResponse {
        let mailbox = mailboxes[call.mailbox]
        let rest = path.rest
        let lowered = rest.map { $0.lowercased() }
        guard request.method == "GET" else { return GraphErrors.badRequest("Unsupported method.") }
        switch call.route {
        case "graph.user.get":
            // The signed-in user (`/me`) or a named mailbox: what a connect flow reads the address from.
            return .json(200, object: ["id": IdentifierCodec.base64URL(Array(mailbox.address.lowercased().utf8), padded: false),
                                       "mail": mailbox.address, "userPrincipalName": mailbox.address,
                                       "displayName": mailbox.address.split(separator: "@").first.map(String.init) ?? ""])
        case "graph.folders.list":
            let roots = mailbox.folders.indices.filter { mailbox.folders[$0].parent == nil && !mailbox.folders[$0].isDeleted }
            return folderList(mailbox, roots)
        case "graph.folders.get":
            guard let folder = mailbox.folderIndex(named: rest[1]) else { return GraphErrors.itemNotFound }
            var json = JSONText()
            renderFolder(mailbox, folder, into: &json, key: nil)
            return .json(200, json.text)
        case "graph.folders.children":
            guard let folder = mailbox.folderIndex(named: rest[1]) else { return GraphErrors.itemNotFound }
            return folderList(mailbox, mailbox.children(of: folder))
        case "graph.messages.list" where lowered.count == 3, "graph.messages.count":
            guard let folder = mailbox.folderIndex(named: rest[1]) else { return GraphErrors.itemNotFound }
            return listMessages(mailbox, folder: folder, request: request, prefix: prefix,
                                countOnly: call.route == "graph.messages.count")
        case "graph.messages.get":
            guard let index = mailbox.messageIndex(graphID: rest[1]) else { return GraphErrors.itemNotFound }
            var json = JSONText(capacity: 1024)
            renderMessage(mailbox, index, fields: Self.fieldMask(selectFields(request)), immutable: request.wantsImmutableIDs,
                          expand: expansion(request), into: &json)
            return .json(200, json.text)
        case "graph.attachments.list":
            guard let index = mailbox.messageIndex(graphID: rest[1]) else { return GraphErrors.itemNotFound }
            var json = JSONText()
            json.beginObject()
            renderAttachments(mailbox, index, select: selectFields(request), key: "value", into: &json)
            json.endObject()
            return .json(200, json.text)
        case "graph.messages.delta":
            guard let folder = mailbox.folderIndex(named: rest[1]) else { return GraphErrors.itemNotFound }
            return delta(mailbox: call.mailbox, folder: folder, request: request, prefix: prefix)
        default:
            return GraphErrors.badRequest("Resource not found for the segment '\(rest.last?.prefix(40) ?? "")'.")
        }
    }

    // MARK: Folders

    private func folderList(_ mailbox: Mailbox, _ indices: [Int]) -> SimResponse {
        var json = JSONText()
        json.beginObject()
        json.beginArray("value")
        for index in indices { renderFolder(mailbox, index, into: &json, key: nil) }
        json.endArray()
        json.endObject()
        return .json(200, json.text)
    }

    private func renderFolder(_ mailbox: Mailbox, _ index: Int, into json: inout JSONText, key: String?) {
        let folder = mailbox.folders[index]
        json.beginObject(key)
        json.string("id", folder.id)
        json.string("displayName", folder.displayName)
        json.string("parentFolderId", folder.parent.map { mailbox.folders[$0].id } ?? "AQMkADroot0000AAA=")
        json.number("childFolderCount", mailbox.children(of: index).count)
        let unread = folder.entries.reduce(0) { $0 + ($1 >= 0 && !mailbox.messages[$1].isRead ? 1 : 0) }
        json.number("unreadItemCount", unread)
        json.number("totalItemCount", folder.entries.count)
        json.bool("isHidden", false)
        json.endObject()
    }

    // MARK: Listing

    /// The window a `$filter` on receivedDateTime selects, as [lower, upper) in seconds.
    struct TimeFilter {
        var lower: Int64 = .min
        var upper: Int64 = .max
    }

    static func parseFilter(_ text: String?) -> Result<TimeFilter, SimResponse> {
        var filter = TimeFilter()
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return .success(filter) }
        for clause in text.components(separatedBy: " and ") {
            let words = clause.split(separator: " ").map(String.init)
            guard words.count == 3, words[0].lowercased() == "receiveddatetime",
                  let seconds = ISOTime.parse(words[2].trimmingCharacters(in: CharacterSet(charactersIn: "'")))
            else { return .failure(GraphErrors.badRequest("Invalid filter clause: \(clause.prefix(80))")) }
            switch words[1].lowercased() {
            case "ge": filter.lower = max(filter.lower, seconds)
            case "gt": filter.lower = max(filter.lower, seconds + 1)
            case "lt": filter.upper = min(filter.upper, seconds)
            case "le": filter.upper = min(filter.upper, seconds + 1)
            default: return .failure(GraphErrors.badRequest("Invalid filter operator: \(words[1].prefix(10))"))
            }
        }
        return .success(filter)
    }

    private func listMessages(_ mailbox: Mailbox, folder: Int, request: SimRequest, prefix: String,
                              countOnly: Bool) -> SimResponse {
        let filterText = request.parameter("$filter")
        let filter: TimeFilter
        switch Self.parseFilter(filterText) {
        case let .success(value): filter = value
        case let .failure(response): return response
        }
        var descending = true
        if let orderBy = request.parameter("$orderby") {
            let words = orderBy.split(separator: " ").map { $0.lowercased() }
            guard words.first == "receiveddatetime" else {
                return filterText == nil
                    ? GraphErrors.badRequest("Sorting on this property is not supported.")
                    : GraphErrors.badRequest("The restriction or sort order is too complex for this operation.",
                                             code: "InefficientFilter")
            }
            descending = words.count > 1 && words[1] == "desc"
        }
        let entries = mailbox.folders[folder]
        let low = entries.lowerBound(filter.lower)
        let high = filter.upper == .max ? entries.times.count : entries.lowerBound(filter.upper)
        let rangeCount = max(high - low, 0)
        if countOnly {
            var count = 0
            for position in low ..< max(high, low) where entries.entries[position] >= 0 { count += 1 }
            return .text(200, String(count))
        }
        var pageSize = knobs.graphDefaultPageSize
        if let top = request.parameter("$top") {
            guard let value = Int(top), (1 ... 1000).contains(value) else {
                return GraphErrors.badRequest("Invalid value for $top: must be between 1 and 1000.")
            }
            pageSize = value
            if let preferred = request.maxPageSizePreference { pageSize = min(pageSize, preferred) }
        } else if let preferred = request.maxPageSizePreference {
            pageSize = max(preferred, 1)
        }
        pageSize = min(pageSize, knobs.graphMaxPageSize)
        let skip = request.parameter("$skip").flatMap(Int.init) ?? 0
        let fields = Self.fieldMask(selectFields(request))
        let expand = expansion(request)
        let immutable = request.wantsImmutableIDs
        var json = JSONText(capacity: 256 + pageSize * 400)
        json.beginObject()
        json.string("@odata.context", "\(baseURL)/graph/v1.0/$metadata#users('\(mailbox.userID)')/mailFolders('\(entries.id)')/messages")
        if (request.parameter("$count") ?? "").lowercased() == "true" {
            var count = 0
            for position in low ..< max(high, low) where entries.entries[position] >= 0 { count += 1 }
            json.number("@odata.count", count)
        }
        json.beginArray("value")
        // `$skip` counts walk positions, non-message items included, so it runs ahead of the items returned.
        var walked = skip
        var returned = 0
        while walked < rangeCount, returned < pageSize {
            let position = descending ? high - 1 - walked : low + walked
            walked += 1
            let index = entries.entries[position]
            guard index >= 0 else { continue }
            if expand == nil {
                json.raw(nil, mailbox.renderedMessages.fragment(index, fields: fields, immutable: immutable) {
                    var fragment = JSONText(capacity: 400)
                    renderMessage(mailbox, index, fields: fields, immutable: immutable, expand: nil, into: &fragment)
                    return fragment.text
                })
            } else {
                renderMessage(mailbox, index, fields: fields, immutable: immutable, expand: expand, into: &json)
            }
            returned += 1
        }
        json.endArray()
        if walked < rangeCount {
            let query = request.query.filter { $0.name != "$skip" && $0.name != "skip" }
                + [(name: "$skip", value: String(walked))]
            let encoded = query.map { "\(SimRequest.encodeQueryComponent($0.name))=\(SimRequest.encodeQueryComponent($0.value))" }
            json.string("@odata.nextLink", "\(baseURL)\(prefix)\(request.path)?\(encoded.joined(separator: "&"))")
        }
        json.endObject()
        return .json(200, json.text)
    }

    func selectFields(_ request: SimRequest) -> Set<String>? {
        request.parameter("$select").map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
    }

    /// The message fields a `$select` names, as bits: a page tests them for every message.
    static func fieldMask(_ select: Set<String>?) -> UInt32 {
        guard let select else { return .max }
        var mask: UInt32 = 0
        for field in MessageField.allCases where select.contains(field.name) { mask |= field.bit }
        return mask
    }

    /// `$expand=attachments` (nil select: every field, content included) or `attachments($select=...)`.
    func expansion(_ request: SimRequest) -> Set<String>?? {
        guard let expand = request.parameter("$expand"), expand.lowercased().hasPrefix("attachments") else { return nil }
        guard let open = expand.range(of: "$select="), let close = expand.lastIndex(of: ")") else { return .some(nil) }
        return .some(Set(expand[open.upperBound ..< close].split(separator: ",").map(String.init)))
    }

    // MARK: Rendering

    func renderMessage(_ mailbox: Mailbox, _ index: Int, fields mask: UInt32, immutable: Bool,
                       expand: Set<String>??, into json: inout JSONText) {
        let message = mailbox.messages[index]
        let content = MessageContent(mailbox: mailbox, message: message)
        func wants(_ field: MessageField) -> Bool { mask & field.bit != 0 }
        json.beginObject()
        if message.isEvent { json.string("@odata.type", "#microsoft.graph.eventMessage") }
        json.string("@odata.etag", "W/\"CQAAAB\(message.serial)x\(message.moves)\"")
        json.string("id", mailbox.graphID(of: index, immutable: immutable))
        if mask & 0b111 != 0 {
            let received = ISOTime.format(message.received)
            if wants(.createdDateTime) { json.string("createdDateTime", received) }
            if wants(.lastModifiedDateTime) { json.string("lastModifiedDateTime", received) }
            if wants(.receivedDateTime) { json.string("receivedDateTime", received) }
        }
        if wants(.sentDateTime) { json.string("sentDateTime", ISOTime.format(message.received - 3)) }
        if wants(.hasAttachments) { json.bool("hasAttachments", content.hasFileAttachments) }
        if wants(.internetMessageId) { json.string("internetMessageId", content.internetMessageID) }
        if wants(.subject) { json.string("subject", content.subject) }
        if wants(.bodyPreview) { json.string("bodyPreview", content.preview) }
        if wants(.importance) { json.string("importance", "normal") }
        if wants(.parentFolderId) { json.string("parentFolderId", mailbox.folders[message.folder].id) }
        if wants(.conversationId) {
            json.string("conversationId", "AAQkAG" + IdentifierCodec.gmailID(tag: mailbox.tag, serial: content.conversationSerial))
        }
        if wants(.isRead) { json.bool("isRead", message.isRead) }
        if wants(.isDraft) { json.bool("isDraft", mailbox.folders[message.folder].role == .drafts) }
        for (key, field) in [("from", MessageField.from), ("sender", .sender)] where wants(field) {
            json.beginObject(key)
            Self.renderAddress(content.fromName, content.fromAddress, into: &json)
            json.endObject()
        }
        if wants(.toRecipients) {
            json.beginArray("toRecipients")
            json.beginObject()
            Self.renderAddress(nil, content.toAddress, into: &json)
            json.endObject()
            json.endArray()
        }
        if wants(.ccRecipients) {
            json.beginArray("ccRecipients")
            json.endArray()
        }
        if wants(.body) {
            json.beginObject("body")
            json.string("contentType", "html")
            json.string("content", content.bodyHTML)
            json.endObject()
        }
        if let expand {
            renderAttachments(mailbox, index, select: expand, key: "attachments", into: &json)
        }
        json.endObject()
    }

    private static func renderAddress(_ name: String?, _ address: String, into json: inout JSONText) {
        json.beginObject("emailAddress")
        json.string("name", name ?? address)
        json.string("address", address)
        json.endObject()
    }

    func renderAttachments(_ mailbox: Mailbox, _ index: Int, select: Set<String>?, key: String,
                           into json: inout JSONText) {
        let content = MessageContent(mailbox: mailbox, message: mailbox.messages[index])
        func wants(_ field: String) -> Bool { select?.contains(field) ?? true }
        json.beginArray(key)
        for (number, attachment) in content.attachments.enumerated() {
            json.beginObject()
            json.string("@odata.type", "#microsoft.graph.fileAttachment")
            json.string("id", mailbox.graphID(of: index, immutable: true) + "BEgAQ\(number)")
            if wants("name") { json.string("name", attachment.name) }
            if wants("contentType") { json.string("contentType", attachment.contentType) }
            if wants("size") { json.number("size", attachment.size) }
            if wants("isInline") { json.bool("isInline", attachment.isInline) }
            if wants("lastModifiedDateTime") {
                json.string("lastModifiedDateTime", ISOTime.format(mailbox.messages[index].received))
            }
            if select == nil {
                json.string("contentId", attachment.contentID)
                json.string("contentBytes", Data("simulated \(attachment.name)".utf8).base64EncodedString())
            }
            json.endObject()
        }
        json.endArray()
    }
}
