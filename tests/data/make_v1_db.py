"""Writes tests/data/wibox-v1.db: a database as release 0.1 left it (only migration 0001), for the upgrade test.

Kept for reference; the checked-in file is what the test uses. Run: PYTHONPATH=. python tests/data/make_v1_db.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from locker import audit, codes
from locker.db import Database
from locker.migrations import MIGRATIONS, migrate

OUT = Path(__file__).with_name("wibox-v1.db")


def main() -> int:
    for suffix in ("", "-wal", "-shm"):
        Path(str(OUT) + suffix).unlink(missing_ok=True)
    database = Database(OUT)
    migrate(database, MIGRATIONS[:1])
    issued = codes.issue_codes("ORD-OLD1", "55501234")
    with database.write() as conn:
        for n, size in ((1, "S"), (2, "M")):
            conn.execute(
                "INSERT INTO compartments (number, size, height_mm, state, updated_at) VALUES (?, ?, 900, ?, 1)",
                (n, size, "free" if n == 2 else "occupied"),
            )
        conn.execute("UPDATE compartments SET order_id = 'ORD-OLD1', content = 'document' WHERE number = 1")
        conn.execute(
            "INSERT INTO orders (id, pickup_number, document_kind, size, reachable, state, compartment, valid_from,"
            " valid_until, qr_verifier, pin_verifier, updated_at) VALUES (?, ?, 'passport', 'S', 0, 'stored', 1,"
            " 1, 1900000000, ?, ?, 1)",
            ("ORD-OLD1", issued.pickup_number, issued.qr_verifier, issued.pin_verifier),
        )
        audit.append(conn, {"type": "order.state", "order": "ORD-OLD1", "to": "stored", "why": "fixture"})
        audit.append(conn, {"type": "compartment.state", "compartment": 1, "to": "occupied", "why": "fixture"})
    database.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.conn.execute("PRAGMA journal_mode=DELETE")
    database.close()
    print(f"wrote {OUT}; QR {issued.qr.payload}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
