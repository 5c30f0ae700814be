"""Flow configuration packages: archive format, ops repository (TUF), terminal updater.

- `archive`: the data-only package archive and its member rules;
- `keys`: Ed25519 key files and detached package signatures;
- `repository`: the ops side of The Update Framework (root ceremony, publish, refresh);
- `rollout`: rings and percentages of terminals;
- `store`: verified, versioned package directories and the atomic state file;
- `updater`: the terminal's TUF client (choose, download, verify);
- `manager`: load the active set, poll, stage, activate between citizens, roll back.
"""
