"""Audits: random draws, schedules, the on-site workflow, rectification and publication."""
