"""What autogenerate must not report as a difference between the models and a migrated database.

On PostgreSQL, collection records and X-ray events are partitioned by month (revision 5a7c2221703e): the
partitions are tables no model maps, the primary keys and the unique version of a waybill are unique indexes
that include the partition column, and the foreign keys that point at the two tables by id alone do not exist.
Everything else is compared as usual.
"""
from __future__ import annotations

import re

UNMODELLED_TABLES = {"apscheduler_jobs"}  # APScheduler's job store: made by a migration, owned by APScheduler
PARTITION = re.compile(r"(collection_records|xray_events)_(y\d{4}m(0[1-9]|1[0-2])|default)")
DROPPED_FOREIGN_KEYS = {
    "fk_case_results_record_id_collection_records",
    "fk_finding_records_record_id_collection_records",
    "fk_xray_reviews_event_id_xray_events",
    "fk_clues_event_id_xray_events",  # revision e5f9c2d3b4a8 makes it on SQLite only
}
WIDENED_UNIQUE = {"uq_collection_records_outlet_id_waybill_no_version"}  # in PostgreSQL: ..._collected_on below
KEY_INDEXES = {  # unique indexes of the partitioned tables in PostgreSQL -> their columns
    "pk_collection_records": ("id", "collected_on"),
    "pk_xray_events": ("id", "scanned_at"),
    "uq_collection_records_outlet_id_waybill_no_version_collected_on": (
        "outlet_id", "waybill_no", "version", "collected_on"),
}


def hooks(dialect: str) -> dict:
    """``include_name`` and ``include_object`` for Alembic's ``configure`` on a database of ``dialect``."""
    partitioned = dialect == "postgresql"

    def include_name(name, type_, parent_names) -> bool:
        if type_ != "table":
            return True
        return name not in UNMODELLED_TABLES and not (partitioned and PARTITION.fullmatch(name or ""))

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if not partitioned:
            return True
        if type_ == "foreign_key_constraint" and not reflected:
            return name not in DROPPED_FOREIGN_KEYS
        if type_ == "unique_constraint" and not reflected:
            return name not in WIDENED_UNIQUE
        if type_ == "index" and reflected and name in KEY_INDEXES:
            return not (obj.unique and KEY_INDEXES[name] == tuple(c.name for c in obj.columns))
        return True

    return {"include_name": include_name, "include_object": include_object}
