"""The registry: outlets, X-ray machines, staff, contract customers and read-only reference data."""
