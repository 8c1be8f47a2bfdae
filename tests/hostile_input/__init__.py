"""Hostile input: every form, hostile mail across the access rule, and CSV formula neutralising."""
