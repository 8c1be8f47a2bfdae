"""Security posture collection: users, MFA registration, enforcement and
roles from the MSP's tenant, and the customer tenants linked by consent
(linking, Test, their own collection). Imports setup and graph only; the
results are stored through security's action."""
