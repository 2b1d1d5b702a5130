"""The SQLAlchemy model of GreenShield: typed mapped classes, one module per aggregate.

Imports nothing else of the project; every other package builds on it.
"""
from models.base import Base, UTCDateTime, utcnow
from models.registry import (
    ContractCustomer,
    Enterprise,
    IdType,
    Outlet,
    OutletKind,
    ProhibitedCategory,
    Region,
    Staff,
    StaffRole,
    XrayMachine,
)
from models.accounts import ApiToken, Role, User, user_outlets
from models.parcels import (
    Alert,
    AlertStatus,
    BatchError,
    BatchStatus,
    CollectionRecord,
    Finding,
    FindingRecord,
    OutletDay,
    PiiKeyState,
    UploadBatch,
)

__all__ = [
    "UploadBatch",
    "PiiKeyState",
    "OutletDay",
    "FindingRecord",
    "Finding",
    "CollectionRecord",
    "BatchStatus",
    "BatchError",
    "AlertStatus",
    "Alert",
    "ApiToken",
    "Base",
    "ContractCustomer",
    "Enterprise",
    "IdType",
    "Outlet",
    "OutletKind",
    "ProhibitedCategory",
    "Region",
    "Role",
    "Staff",
    "StaffRole",
    "UTCDateTime",
    "User",
    "XrayMachine",
    "user_outlets",
    "utcnow",
]
