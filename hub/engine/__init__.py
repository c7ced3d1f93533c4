"""The path of a message: prepare, group commit, the writer transaction, the running hub."""
