"""The demo: run command and showcase tenant."""
