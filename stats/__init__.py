"""发稿统计: who published what and how often it was read, its charts and
its spreadsheet and CSV exports."""
