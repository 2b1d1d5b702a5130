"""Accounts, sign-in, API tokens, and the role-and-scope policy every route declares."""
