"""Penalty cases (行政处罚), the legal provisions they rest on, and the printable documents."""
