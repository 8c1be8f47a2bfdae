"""The Microsoft 365 connection: the form, the Test, one connection, the secret at rest, the Integrations page."""
