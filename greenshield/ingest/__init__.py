"""Daily-log ingest: upload route, web page and CLI over one service."""
