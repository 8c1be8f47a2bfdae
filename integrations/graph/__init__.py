"""Microsoft Graph (and Entra ID) as plain Python: no Django, no database.

- client.py: GraphClient, the only code that sends requests to Entra or Graph
  (endpoint methods and the Technician Mailboxes allow-list);
  transport.py (session, retries, error mapping), tokens.py (MSAL
  applications and token errors) and batch.py ($batch) serve it.
- errors.py: the typed errors every call can raise.
- licence.py: what a 403 from the registration report means.
- parse/: pure functions from Graph JSON to plain records.

An import-linter contract (pyproject.toml) keeps Django out of this package;
the packages beside it (setup, mail, posture) are the Django side that
stores what the client reads.
"""
