"""Reference data and the registry: regions, enterprises, outlets, machines, staff, contract customers."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, str_enum, utcnow


class Region(Base):
    """A GB/T 2260 administrative division (province, league/city, banner/county)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    level: Mapped[int] = mapped_column(SmallInteger)

    parent: Mapped[Region | None] = relationship(remote_side=[code])

    @property
    def prefix(self) -> str:
        """The leading digits that every division inside this one shares ('15' for 150000)."""
        return prefix_of(self.code)


def prefix_of(region_code: str) -> str:
    """'150000' -> '15', '150100' -> '1501', '150102' -> '150102'."""
    code = region_code
    while code.endswith("00") and len(code) > 2:
        code = code[:-2]
    return code


class Enterprise(Base):
    """A delivery enterprise (寄递企业) such as EMS or SF."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutletKind(enum.Enum):
    OUTLET = "outlet"
    SORTING_CENTRE = "sorting_centre"


class Outlet(Base):
    """An outlet (网点) or sorting centre (分拨中心) of an enterprise, located in a region."""

    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    kind: Mapped[OutletKind] = mapped_column(str_enum(OutletKind, "outlet_kind"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    # 代检: an outlet without a machine names the sorting centre (or outlet) whose machines screen its parcels
    screening_site: Mapped[Outlet | None] = relationship(
        secondary="screening_sites", primaryjoin="Outlet.id == ScreeningSite.outlet_id",
        secondaryjoin="Outlet.id == ScreeningSite.site_id", uselist=False, lazy="select")


class ScreeningSite(Base):
    """An outlet's designated screening site (代检): the sorting centre or outlet whose machines screen its parcels."""

    __tablename__ = "screening_sites"

    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)


class XrayMachine(Base):
    """An X-ray security machine (安检机) installed at an outlet."""

    __tablename__ = "xray_machines"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    installed_on: Mapped[dt.date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    calibration_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When the machine's model changed and its calibration for the new one was asked for; None once done."""

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class StaffRole(enum.Enum):
    COURIER = "courier"
    SCREENER = "screener"


class Staff(Base):
    """A courier (收寄人员) or X-ray screener (安检员) working at an outlet."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole, "staff_role"))
    certificate_no: Mapped[str | None] = mapped_column(String(64))
    id_no_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_no_hmac: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    outlet: Mapped[Outlet] = relationship(lazy="joined")


class ContractCustomer(Base):
    """A bulk sender (协议用户) filed (备案) with an outlet; its items skip per-item ID checks while valid."""

    __tablename__ = "contract_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), index=True)
    filed_on: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    outlet: Mapped[Outlet] = relationship(lazy="joined")

    def valid_on(self, day: dt.date) -> bool:
        """Whether the filing covers items collected on ``day``."""
        return self.active and self.filed_on <= day <= self.valid_until


class IdType(Base):
    """An identity-document type accepted for real-name collection."""

    __tablename__ = "id_types"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(64))


class ProhibitedCategory(Base):
    """One of the 19 categories of the 禁止寄递物品指导目录."""

    __tablename__ = "prohibited_categories"

    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))
