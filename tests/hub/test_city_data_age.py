"""The city's data-age limit (city_settings.max_data_age_h) travels in every bundle and is the one the station
applies (finding 8 of the security review), over real HTTP."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from tests.hub.enrolled import enrolled_on_sqlite_hub
from tests.hub.test_end_to_end import new_order


def test_the_citys_limit_reaches_its_station(tmp_path: Path) -> None:
    with enrolled_on_sqlite_hub(tmp_path) as (st, client, store):
        with store.write() as conn:
            t = hubdb.city_settings
            conn.execute(sa.delete(t).where(t.c.city_id == "wiesbaden"))
            conn.execute(sa.insert(t).values(city_id="wiesbaden"))
            assert conn.execute(sa.select(t.c.max_data_age_h).where(t.c.city_id == "wiesbaden")).scalar() == 72
            conn.execute(sa.update(t).where(t.c.city_id == "wiesbaden").values(max_data_age_h=12))
        new_order(store, "CASE-AGE", days=7)
        assert client.sync_once().bundles >= 1
        assert st.flows.bundle.max_data_age_h() == 12
        st.clock.advance(12 * 3600 + 60)
        assert st.flows.bundle.check_data_age() is True
