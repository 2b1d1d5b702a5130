"""Audit planning, random draws, schedules and rectification: functions that take a session and flush."""
