"""Safety incidents (应急): reports, grades, follow-ups and closing; emergency plans and drills; the daily safety
report."""
