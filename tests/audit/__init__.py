"""The audit log: its rows, hash chain, names and page."""
