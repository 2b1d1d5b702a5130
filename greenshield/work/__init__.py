"""Long work in background workers: the queue, the worker command, the job API and page."""
