"""The Microsoft 365 connection and what every run stands on: the stored
connection and its encrypted secret, the admin's form and Test, the
Technician Mailboxes list, and the claim rule every task that claims work
follows. Imports integrations.graph only (within integrations)."""
