"""Posture collection, arithmetic, enforcement, MFA exceptions, the posture pages and the collection's claim."""
