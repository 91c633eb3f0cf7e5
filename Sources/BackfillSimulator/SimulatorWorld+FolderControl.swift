import Foundation

/// Control routes that change a Graph mailbox's folders as its user would after it is connected: a new child
/// folder of the Inbox (`POST folders`), and deleting one (`DELETE folders/{id}`), so real-time sync meets
/// folders it did not see at connect time and folders that vanish under it.
extension SimulatorWorld {
    /// `POST /_sim/mailboxes/{address}/folders` with `{"displayName": ...}`: 201 `{"id": ...}`.
    func createFolder(mailbox index: Int, body: [String: Any]) -> SimResponse {
        let mailbox = mailboxes[index]
        guard mailbox.isGraph else {
            return controlError(400, "folders can be created only in Graph mailboxes (Gmail has labels)")
        }
        guard let name = (body["displayName"] as? String)?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            return controlError(400, "displayName required")
        }
        let inbox = mailbox.folder(.inbox)
        // Graph refuses a sibling with the same name (ErrorFolderExists).
        if mailbox.children(of: inbox).contains(where: { mailbox.folders[$0].displayName.lowercased() == name.lowercased() }) {
            return controlError(409, "the Inbox already has a folder named \(name)")
        }
        let folder = mailbox.createInboxChild(displayName: name)
        return .json(201, object: ["id": mailbox.folders[folder].id])
    }

    /// `DELETE /_sim/mailboxes/{address}/folders/{id}`: 204; the folder's messages go to Deleted Items.
    func deleteFolder(mailbox index: Int, id: String) -> (SimResponse, [OutboundPost]) {
        let mailbox = mailboxes[index]
        guard mailbox.isGraph else {
            return (controlError(400, "folders can be deleted only in Graph mailboxes (Gmail has labels)"), [])
        }
        let id = id.removingPercentEncoding ?? id
        guard let folder = mailbox.folders.firstIndex(where: { $0.id == id && !$0.isDeleted }) else {
            return (controlError(404, "no such folder"), [])
        }
        guard mailbox.folders[folder].role == .inboxChild else {
            return (controlError(400, "only a child folder of the Inbox can be deleted, not \(mailbox.folders[folder].displayName)"), [])
        }
        let changeMark = mailbox.changes.count, historyMark = mailbox.history.count
        mailbox.deleteFolder(folder, at: now)
        return (SimResponse(status: 204), notifications(mailbox: index, changesFrom: changeMark, historyFrom: historyMark))
    }

    /// The folder a control body names: a role (that role's original folder) or any folder's id. Unknown names
    /// and deleted folders are a 400.
    func controlFolder(_ mailbox: Mailbox, _ name: String) -> Result<Int, SimResponse> {
        let folder: Int
        if let role = MailFolder.Role(rawValue: name) {
            folder = mailbox.folder(role)
        } else if let byID = mailbox.folders.firstIndex(where: { $0.id == name }) {
            folder = byID
        } else {
            let roles = MailFolder.Role.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(controlError(400, "folder must be one of \(roles), or a folder id"))
        }
        guard !mailbox.folders[folder].isDeleted else {
            return .failure(controlError(400, "folder \(mailbox.folders[folder].displayName) was deleted"))
        }
        return .success(folder)
    }
}
