"""Compliance: outlet-day rates, alerts, abnormal real-name findings, the dashboard."""
