"""Customers, domains, the CSV import and the customer hub (access rule, query budget)."""
