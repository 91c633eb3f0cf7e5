/// Graph message JSON by (selected fields, id kind): list pages ask for the same messages with the same
/// `$select` again and again, and rendering is most of a page's cost.
struct RenderedMessageCache {
    private struct Key: Hashable {
        let fields: UInt32
        let immutable: Bool
    }

    private var fragments: [Key: [String?]] = [:]
    /// Keeps memory bounded if a client varies `$select` a lot.
    private let maxVariants = 8

    mutating func fragment(_ index: Int, fields: UInt32, immutable: Bool, render: () -> String) -> String {
        let key = Key(fields: fields, immutable: immutable)
        if let cached = fragments[key]?[safe: index] ?? nil { return cached }
        let text = render()
        if fragments[key] == nil, fragments.count >= maxVariants { fragments.removeAll() }
        var list = fragments.removeValue(forKey: key) ?? []
        if index >= list.count { list += Array(repeating: nil, count: index + 1 - list.count) }
        list[index] = text
        fragments[key] = list
        return text
    }

    mutating func forget(_ index: Int) {
        for key in fragments.keys where index < fragments[key]!.count {
            fragments[key]![index] = nil
        }
    }
}

private extension Array {
    subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
