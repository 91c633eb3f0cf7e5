// Placeholder until this target is built; see its issue.
