import Foundation

/// Graph message delta per folder (docs/providers.md, Graph delta): rounds, links, caps, `@removed`, dying sync states.
extension SimulatorWorld {
    func delta(mailbox index: Int, folder: Int, request: SimRequest, prefix: String) -> SimResponse {
        let mailbox = mailboxes[index]
        var state: DeltaState
        if let token = request.parameter("$skiptoken") ?? request.parameter("$deltatoken") {
            guard let stored = deltaStates[token], stored.mailbox == index else {
                return GraphErrors.syncStateNotFound(generation: 0, highest: 0)
            }
            // A token of a folder deleted since: the folder is gone, whatever path carries the token.
            guard !mailbox.folders[stored.folder].isDeleted else { return GraphErrors.itemNotFound }
            let highest = deltaChains[stored.chain] ?? stored.generation
            guard stored.generation > highest - max(knobs.graphDeltaGenerationsKept, 1) else {
                return GraphErrors.syncStateNotFound(generation: stored.generation, highest: highest)
            }
            state = stored
            if request.parameter("$deltatoken") != nil {
                state = nextRound(after: stored, mailbox: mailbox)
            }
        } else {
            switch firstRound(mailbox: index, folder: folder, request: request) {
            case let .success(first): state = first
            case let .failure(response): return response
            }
        }
        let pageSize = min(request.maxPageSizePreference ?? knobs.graphDefaultPageSize, knobs.graphMaxPageSize)
        let immutable = request.wantsImmutableIDs
        var json = JSONText(capacity: 256 + pageSize * 400)
        json.beginObject()
        json.string("@odata.context", "\(baseURL)/graph/v1.0/$metadata#Collection(message)")
        json.beginArray("value")
        let fields = Self.fieldMask(state.select)
        var served = 0
        while served < pageSize, !state.pending.isEmpty, state.cap.map({ state.returned < $0 }) ?? true {
            let item = state.pending.removeFirst()
            served += 1
            state.returned += 1
            if item.removed || mailbox.messages[item.message].isDeleted || mailbox.messages[item.message].folder != folder {
                json.beginObject()
                json.string("@odata.type", "#microsoft.graph.message")
                json.string("id", immutable ? mailbox.graphID(of: item.message, immutable: true)
                    : IdentifierCodec.messageID(tag: mailbox.tag, serial: item.message, moves: item.moves, immutable: false))
                json.beginObject("@removed")
                json.string("reason", "deleted")
                json.endObject()
                json.endObject()
            } else {
                renderMessage(mailbox, item.message, fields: fields, immutable: immutable, expand: nil, into: &json)
            }
        }
        json.endArray()
        let roundOver = state.pending.isEmpty || state.cap.map { state.returned >= $0 } == true
        let generation = (deltaChains[state.chain] ?? 0) + 1
        deltaChains[state.chain] = generation
        let token = opaqueToken()
        let link = "\(baseURL)\(prefix)/users/\(mailbox.userID)/mailFolders('\(mailbox.folders[folder].id)')/messages/delta"
        if roundOver {
            deltaStates[token] = DeltaState(
                mailbox: index, folder: folder, select: state.select, lower: state.lower,
                cap: nil, pending: [], returned: 0, changeMark: state.changeMark, chain: state.chain,
                generation: generation
            )
            json.string("@odata.deltaLink", "\(link)?$deltatoken=\(token)")
        } else {
            deltaStates[token] = DeltaState(
                mailbox: index, folder: folder, select: state.select, lower: state.lower, cap: state.cap,
                pending: state.pending, returned: state.returned, changeMark: state.changeMark, chain: state.chain,
                generation: generation
            )
            json.string("@odata.nextLink", "\(link)?$skiptoken=\(token)")
        }
        json.endObject()
        return .json(200, json.text)
    }

    private func firstRound(mailbox index: Int, folder: Int, request: SimRequest) -> Result<DeltaState, SimResponse> {
        let mailbox = mailboxes[index]
        var lower: Int64?
        if let filter = request.parameter("$filter") {
            let words = filter.split(separator: " ").map(String.init)
            guard words.count == 3, words[0].lowercased() == "receiveddatetime",
                  ["ge", "gt"].contains(words[1].lowercased()), let seconds = ISOTime.parse(words[2])
            else {
                return .failure(GraphErrors.badRequest(
                    "The '$filter' parameter value is not supported for 'Messages' resource; only a value of 'receivedDateTime ge value' is supported.",
                    code: "ErrorInvalidUrlQuery"))
            }
            lower = words[1].lowercased() == "gt" ? seconds + 1 : seconds
        }
        var descending = false
        if let orderBy = request.parameter("$orderby") {
            guard orderBy.lowercased().split(separator: " ") == ["receiveddatetime", "desc"] else {
                return .failure(GraphErrors.badRequest("Only 'receivedDateTime desc' is supported for $orderby.",
                                                      code: "ErrorInvalidUrlQuery"))
            }
            descending = true
        }
        var cap = request.parameter("$top").flatMap(Int.init)
        if lower != nil { cap = min(cap ?? .max, knobs.graphDeltaFilteredCap) }
        let entries = mailbox.folders[folder]
        let start = lower.map { entries.lowerBound($0) } ?? 0
        var items = entries.entries[start...].filter { $0 >= 0 }.map { DeltaState.Item(message: $0, removed: false, moves: 0) }
        if descending { items.reverse() }
        let chain = nextCounter()
        return .success(DeltaState(mailbox: index, folder: folder, select: selectFields(request), lower: lower,
                                   cap: cap, pending: items, returned: 0,
                                   changeMark: mailbox.changes.count, chain: chain, generation: 0))
    }

    /// The round after a deltaLink: the folder's changes since the last round, newest state per message.
    private func nextRound(after state: DeltaState, mailbox: Mailbox) -> DeltaState {
        var latest: [Int: DeltaState.Item] = [:]
        var order: [Int] = []
        for change in mailbox.changes[state.changeMark...] where change.folder == state.folder {
            if latest[change.message] == nil { order.append(change.message) }
            let message = mailbox.messages[change.message]
            if let lower = state.lower, message.received < lower, change.kind == .created { continue }
            latest[change.message] = DeltaState.Item(message: change.message, removed: change.kind == .removed,
                                                     moves: change.kind == .removed ? max(message.moves - (message.folder == state.folder ? 0 : 1), 0) : message.moves)
        }
        return DeltaState(mailbox: state.mailbox, folder: state.folder, select: state.select, lower: state.lower,
                          cap: nil, pending: order.compactMap { latest[$0] },
                          returned: 0, changeMark: mailbox.changes.count, chain: state.chain,
                          generation: state.generation)
    }
}
