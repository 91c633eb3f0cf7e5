// Placeholder until this target's tests exist.
