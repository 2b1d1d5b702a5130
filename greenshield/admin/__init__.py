"""User administration: accounts, their scope, sessions and tokens, and the administrators 'action log."""
