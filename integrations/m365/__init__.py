"""Microsoft 365 (Entra ID + Microsoft Graph) connector internals.

- client.py: GraphClient, the only code that sends requests to Entra or Graph
  (endpoint methods and the Technician Mailboxes allow-list);
  transport.py (session, retries, error mapping), tokens.py (MSAL
  applications and token errors) and batch.py ($batch) serve it.
- errors.py: the typed errors every call can raise.
- parse.py: pure functions from Graph JSON to plain records.
- secrets.py: Fernet encryption of the client secret at rest.

client.py, transport.py, tokens.py, batch.py, parse.py and secrets.py import
no Django models (the simulator-facing transport stays plain Python); the
sync modules (sync.py, mail_sync.py, calendar_sync.py, posture_sync.py)
are the Django side that writes what the client reads.
"""
