"""Sign-in, passwords, users, time zones and the role matrix."""
