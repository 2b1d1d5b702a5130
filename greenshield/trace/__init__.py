"""Traceability (溯源追查): investigation cases, parcel-chain queries, the access log, watchlists, evidence export."""
