"""Load test of the customer hub and /security under gunicorn: see run.py."""
