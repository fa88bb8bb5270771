"""A city's policy as the hub keeps it (city_settings): what orders, notices, open data and bundles follow."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from locker import codes


@dataclass(frozen=True)
class CitySettings:
    dob_factor: bool = False
    pin_length: int = codes.MIN_PIN_LENGTH
    office_contact: str = ""
    open_data: bool = True
    max_data_age_h: int = 72


def city_settings(conn: sa.Connection, city_id: str) -> CitySettings:
    t = hubdb.city_settings
    row = conn.execute(sa.select(t).where(t.c.city_id == city_id)).first()
    if row is None:
        return CitySettings()
    return CitySettings(row.dob_factor, row.pin_length, row.office_contact, row.open_data, row.max_data_age_h)
