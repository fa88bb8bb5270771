"""The kiosk's hub client: outbound HTTP(S) only — enroll, pull and apply bundles, push events, checkpoints,
heartbeats and remote commands, with backoff when the hub is down."""

from __future__ import annotations

import functools
import json
import logging
import random
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.commands import verify_command
from backend_sync.errors import HubRefused, HubUnreachable, SchemaError
from backend_sync.keys import KioskKeys, fingerprint
from backend_sync.receiver import BundleReceiver, HpkeDecryptor, verify_countersignature
from backend_sync.runner import CommandRunner, UiControl
from locker import __version__, audit
from locker.errors import LockerError
from locker.flows import Flows
from locker.flows.bundle import HubKey
from locker.flows.pickup import PIN_FAILURES
from locker.model import CompartmentState
from locker.ports import Clock
from locker.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


class OnStation(Protocol):
    """Runs ``fn()`` where the station's flows run and returns its result (``locker.station.Station.execute``)."""

    def __call__(self, fn: Callable[[], T]) -> T: ...


def _here(fn: Callable[[], T]) -> T:
    return fn()


MAX_PULLS_PER_SYNC = 20


@dataclass(frozen=True)
class Enrollment:
    """The hub's answer to an enrollment request: the code to show, the fingerprint of the key it was asked for."""

    code: str
    key_fingerprint: str


@dataclass(frozen=True)
class ClientSettings:
    batch_size: int = 200  # events per message
    timeout_s: float = 10.0
    poll_interval_s: float = 30.0  # pause between syncs when all is well (heartbeat rides along)
    backoff_min_s: float = 2.0
    backoff_max_s: float = 600.0


@dataclass
class ClientStats:
    syncs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str = ""
    bundles_applied: int = 0
    events_delivered: int = 0
    checkpoints: int = 0
    commands_executed: int = 0
    commands_refused: int = 0
    events_refused: int = 0  # events the hub refused (outbox.refused holds why)
    commands_repeated: int = 0  # delivered again after they were taken on: not run again


@dataclass
class SyncReport:
    bundles: int = 0
    events: int = 0
    checkpoint: int | None = None  # the countersigned audit size
    commands: list[str] = field(default_factory=list)


def _thermal_mc() -> int | None:
    path = Path("/sys/class/thermal/thermal_zone0/temp")
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class SyncClient:
    """One kiosk's connection to the hub. Every method may raise a SyncError; ``run_forever`` never does."""

    def __init__(  # noqa: PLR0917 - the kiosk's wiring, in the order the composition root has it
        self,
        base_url: str,
        device_id: str,
        keys: KioskKeys,
        flows: Flows,
        store: Store,
        clock: Clock,
        transport: httpx.BaseTransport | None = None,
        settings: ClientSettings | None = None,
        ui: UiControl | None = None,
        on_station: OnStation | None = None,
    ) -> None:
        """``on_station(fn)`` runs ``fn()`` where the station's flows run (the daemon passes a call onto its station
        worker, so the client's changes take their turn with every other caller's); HTTP calls run outside it.
        Without it, ``fn()`` runs in the caller's thread."""
        p.check_device_id(device_id)
        self.on_station: OnStation = on_station or _here
        self.device_id = device_id
        self.keys = keys
        self.flows = flows
        self.store = store
        self.clock = clock
        self.settings = settings or ClientSettings()
        self.ui = ui
        self.stats = ClientStats()
        self.http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=self.settings.timeout_s)
        self.receiver = BundleReceiver(flows.bundle, device_id, HpkeDecryptor(keys.enc_private), clock)
        self._resync_requested = False
        self.runner = CommandRunner(flows, store, clock, ui, on_resync=self._request_resync)

    def close(self) -> None:
        self.http.close()

    # -- transport ---------------------------------------------------------------------------------------
    def _post(self, path: str, content: bytes) -> bytes:
        try:
            r = self.http.post(path, content=content, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise HubUnreachable(f"{path}: {type(exc).__name__}: {exc}") from exc
        if r.status_code >= 500:
            raise HubUnreachable(f"{path}: HTTP {r.status_code}")
        if r.status_code >= 400:
            try:
                detail = r.json()
            except ValueError:
                detail = None
            if not isinstance(detail, dict):
                detail = {}
            msg = str(detail.get("error", r.text[:200]))
            raise HubRefused(r.status_code, f"{path}: {msg}", detail)
        return r.content

    def _post_signed(self, path: str, body: p.KioskBody) -> bytes:
        data = p.sign_kiosk_message(self.keys.signer, self.device_id, body, int(self.clock.now()))
        return self._post(path, data)

    def _signed(self, path: str, body: p.KioskBody) -> Any:
        return schema.loads(self._post_signed(path, body))

    # -- enrollment --------------------------------------------------------------------------------------
    def enroll(self) -> Enrollment:
        """Ask the hub to enroll this kiosk's keys (signed by the signing key itself); the hub answers with the
        one-time code to show on the screen for the admin (the same code each time for the same keys)."""
        pub = self.keys.public()
        answer = self._signed("/api/v1/enroll", p.KeyAnnounceBody(pub.sign_public, pub.enc_public))
        code = answer.get("code")
        if not (isinstance(code, str) and len(code) == p.ENROLLMENT_CODE_DIGITS and code.isdigit()):
            raise SchemaError("enroll: the hub's answer must carry an 8-digit code")
        own = fingerprint(pub.sign_public)
        if answer.get("key_fingerprint") != own:
            raise SchemaError(f"enroll: the hub answered for key {answer.get('key_fingerprint')!r}, not {own}")
        return Enrollment(code, own)

    def poll_enrollment(self) -> str:
        """The enrollment status; once approved, the hub's keys are pinned (only before the first bundle)."""
        pub = self.keys.public()
        answer = self._signed("/api/v1/enroll/status", p.KeyAnnounceBody(pub.sign_public, pub.enc_public))
        status = str(answer.get("status"))
        if status == "approved" and not self.flows.bundle.hub_keys():
            items = [schema.decode(p.HubKeyItem, k, "hub_keys") for k in answer.get("hub_keys") or []]
            if not items:
                raise SchemaError("hub_keys: an approved enrollment must name the hub's keys")
            self.flows.bundle.pin_hub_keys([HubKey(k.key_id, k.public_key) for k in items])
        return status

    # -- one sync --------------------------------------------------------------------------------------
    def sync_once(self) -> SyncReport:
        """Pull and apply bundles, execute commands, push the outbox, have the audit checkpoint countersigned."""
        report = SyncReport()
        self._pull(report)
        report.events = self.push_events()
        report.checkpoint = self.checkpoint()
        self.stats.syncs += 1
        return report

    def _pull(self, report: SyncReport) -> None:
        for _ in range(MAX_PULLS_PER_SYNC):
            head = self.flows.bundle.head()
            answer = self._signed("/api/v1/kiosk/pull", p.PullBody(head.seq, head.hash))
            report.commands += self._commands(answer.get("commands") or [])
            bundle = answer.get("bundle")
            if bundle is None and not self._resync_requested:
                return
            self._resync_requested = False
            if bundle is not None:
                raw = json.dumps(bundle).encode()
                self.on_station(functools.partial(self.receiver.receive, raw))
                report.bundles += 1
                self.stats.bundles_applied += 1
        log.warning("still bundles to pull after %d pulls; continuing next sync", MAX_PULLS_PER_SYNC)

    def push_events(self) -> int:
        """Deliver the outbox in batches; only ids the hub accepted are marked delivered."""
        total = 0
        while True:
            batch = self.store.pending(self.settings.batch_size)
            if not batch:
                return total
            items = tuple(p.EventItem(e.id, e.seq, e.kind, e.body) for e in batch)
            answer = self._signed("/api/v1/kiosk/events", p.EventsBody(items))
            sent = {e.id for e in batch}
            accepted = [i for i in answer.get("accepted", []) if isinstance(i, str)]
            raw_refused = answer.get("refused")
            refused = {
                str(i): str(why)
                for i, why in (raw_refused if isinstance(raw_refused, dict) else {}).items()
                if i in sent
            }
            if refused:  # a kiosk bug or a foreign id: kept with the hub's reason, never sent again
                log.error("hub refused events %s", refused)
                self.store.mark_refused(refused)
                self.stats.events_refused += len(refused)
            self.store.mark_delivered(accepted, self.clock.now())
            total += len(accepted)
            self.stats.events_delivered += len(accepted)
            if len(accepted) + len(refused) < len(batch):
                return total  # no progress on the rest: try again next sync

    def checkpoint(self) -> int:
        """Have the hub witness the audit log up to its current end; returns the size countersigned.

        The hub countersigns a checkpoint only with the entries since the last one it countersigned for this
        enrollment, which it re-chains; a long stretch goes in steps of ``MAX_CHECKPOINT_ENTRIES``. The kiosk starts
        from its own last countersignature; a hub that counts from elsewhere (a lost answer, a new enrollment) says
        where (``CheckpointBase``), and the kiosk starts again from there. Each countersignature is stored."""
        with self.store.database.write() as conn:
            end = audit.make_checkpoint(conn, self.clock.now())
        since = self._countersigned_size()
        restarts = 0
        while True:
            size = min(end.size, since + p.MAX_CHECKPOINT_ENTRIES)
            try:
                self._witness(since, size)
            except HubRefused as exc:
                base = exc.detail.get("since")
                if exc.detail.get("kind") != "CheckpointBase" or not isinstance(base, int) or restarts >= 2:
                    raise
                restarts += 1
                since = base
                continue
            since = size
            if size >= end.size:
                return size

    def _countersigned_size(self) -> int:
        row = self.store.database.query_one(
            "SELECT max(size) AS size FROM audit_checkpoints WHERE countersignature IS NOT NULL"
        )
        return int(row["size"]) if row is not None and row["size"] is not None else 0

    def _witness(self, since: int, size: int) -> None:
        """One checkpoint at ``size`` with the entries after ``since``, countersigned and stored."""
        with self.store.database.write() as conn:
            cp = audit.checkpoint_at(conn, size, self.clock.now())
        entries = audit.entry_texts(self.store.database, since, size)  # none when the log is shorter than since
        body = p.sign_checkpoint(self.keys.signer, self.device_id, cp.size, cp.head, since=since, entries=entries)
        raw = self._post_signed("/api/v1/kiosk/checkpoint", body)
        cs = verify_countersignature(raw, self.device_id, self.receiver.pinned())
        if (cs.size, cs.head) != (cp.size, cp.head):
            raise SchemaError("countersignature: not for the checkpoint sent")
        with self.store.database.write() as conn:
            conn.execute("UPDATE audit_checkpoints SET countersignature = ? WHERE size = ?", (raw, cp.size))
        self.stats.checkpoints += 1

    # -- heartbeat -----------------------------------------------------------------------------------------
    def health(self) -> p.HealthReport:
        comps = self.store.compartments()
        count = {s: sum(1 for c in comps if c.state == s) for s in CompartmentState}
        depth = self.store.database.query_one(
            "SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL AND refused IS NULL"
        )
        db_dir = self.store.database.path.parent
        return p.HealthReport(
            clock=int(self.clock.now()),
            compartments=len(comps),
            free=count[CompartmentState.FREE],
            occupied=count[CompartmentState.OCCUPIED],
            faulty=count[CompartmentState.FAULTY],
            disabled=count[CompartmentState.DISABLED],
            # door cycles under way; a move's target waiting for staff to open it is not one (its door is shut)
            doors_open=count[CompartmentState.LOADING]
            + count[CompartmentState.OPENING]
            - sum(1 for c in comps if c.waits_for_move),
            outbox_depth=int(depth["n"]) if depth else 0,
            alarms=tuple(str(a[0]) for a in self.store.open_alarms()),
            disk_free_mb=shutil.disk_usage(db_dir).free // 2**20,
            temperature_mc=_thermal_mc(),
            pin_failures_total=int(self.store.meta(PIN_FAILURES) or 0),
        )

    def heartbeat(self) -> list[str]:
        head = self.flows.bundle.head()
        cp = audit.head(self.store.database)
        health = self.health()
        body = p.HeartbeatBody(
            manifest_seq=head.seq,
            manifest_hash=head.hash,
            audit_size=cp.size,
            audit_head=cp.head,
            time_floor=int(self.flows.bundle.time_floor()),
            open_alarms=len(health.alarms),
            software=f"wibox {__version__}",
            health=health,
        )
        answer = self._signed("/api/v1/kiosk/heartbeat", body)
        return self._commands(answer.get("commands") or [])

    # -- remote commands -----------------------------------------------------------------------------------
    def _commands(self, items: list[Any]) -> list[str]:
        """Verify and run the commands of one response; returns the ids executed now (each id runs at most once:
        see backend_sync/runner.py). Commands left started by an earlier run are answered ``interrupted`` first."""
        done = []
        pinned = self.receiver.pinned()
        self.on_station(self.runner.settle)
        for obj in items:
            try:
                cmd = verify_command(obj, self.device_id, pinned, self.clock.now())
            except LockerError as exc:
                self.stats.commands_refused += 1
                log.error("refused a remote command: %s", exc)
                continue
            executed = self.on_station(functools.partial(self.runner.run, cmd))
            if executed:
                self.stats.commands_executed += 1
                done.append(cmd.id)
            else:
                self.stats.commands_repeated += 1
        return done

    def _request_resync(self) -> None:
        self._resync_requested = True

    # -- the loop ------------------------------------------------------------------------------------------
    def backoff_s(self) -> float:
        """Exponential backoff with full jitter after ``consecutive_failures`` failures."""
        n = self.stats.consecutive_failures
        cap = min(self.settings.backoff_max_s, self.settings.backoff_min_s * 2 ** min(n, 30))
        return random.uniform(self.settings.backoff_min_s / 2, cap)

    def step(self) -> bool:
        """One sync plus heartbeat; failures are logged and counted, never raised. Returns success."""
        try:
            self.sync_once()
            self.heartbeat()
        except LockerError as exc:
            self._failed(exc)
            return False
        except Exception as exc:  # the sync loop must outlive any bug; logged with traceback
            log.exception("sync failed unexpectedly")
            self._failed(exc)
            return False
        self.stats.consecutive_failures = 0
        return True

    def _failed(self, exc: BaseException) -> None:
        self.stats.failures += 1
        self.stats.consecutive_failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("sync failed (%d in a row): %s", self.stats.consecutive_failures, self.stats.last_error)

    def run_forever(self, stop: threading.Event) -> None:
        """Sync every ``poll_interval_s``; when the hub is down, back off exponentially with jitter."""
        while not stop.is_set():
            ok = self.step()
            stop.wait(self.settings.poll_interval_s if ok else self.backoff_s())
