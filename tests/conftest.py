"""Shared fixtures: one real SeaweedFS per test session, a fresh database per test."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from server import clock, create_app
from server.extensions import db
from server.services.auth import create_user
from server.storage.embedded import EmbeddedSeaweed, free_ports
from tests.tsa import LocalTsa

S3_KEY, S3_SECRET = "fieldtrace-test", "fieldtrace-test-secret"
# Instants at which the date-sensitive tests must also pass (``--clock NAME``): the last and the
# first minute of a Beijing day, and the coming New Year's Eve as Beijing enters 1 January.
CLOCK_INSTANTS = ("before-midnight", "after-midnight", "new-year")
PASSWORD = "correct horse battery"
PG_URL = os.environ.get("FIELDTRACE_TEST_DATABASE_URL")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        default=os.environ.get("FIELDTRACE_TEST_CLOCK", ""),
        help="run each test with the system clock reading this instant at its start: "
        + ", ".join(CLOCK_INSTANTS)
        + " (around 16:00 UTC, Beijing's midnight) or an ISO 8601 time with offset",
    )


def clock_instant(name: str, host_now: datetime) -> datetime:
    """The instant ``--clock`` names, on the host's UTC date (New Year: the coming one).

    Instants stay near the host's time on purpose: S3 refuses requests signed far from its own
    clock, so only the application clock moves, and Object Lock dates stay in the future."""
    day = host_now.astimezone(UTC).date()
    if name == "before-midnight":
        return datetime.combine(day, time(15, 59, 30), UTC)
    if name == "after-midnight":
        return datetime.combine(day, time(16, 0, 30), UTC)
    if name == "new-year":
        eve = datetime(day.year, 12, 31, 16, 0, 30, tzinfo=UTC)
        return eve if eve >= host_now else eve.replace(year=day.year + 1)
    at = datetime.fromisoformat(name)
    if at.tzinfo is None:
        raise pytest.UsageError(f"--clock {name}: give a time with its offset")
    return at


def pytest_configure(config: pytest.Config) -> None:
    # Set before the test modules are imported, so module-level dates follow the clock too.
    name = config.getoption("--clock")
    if name:
        config.stash[_CLOCK_AT] = clock_instant(name, datetime.now(UTC))
        clock.set_now(config.stash[_CLOCK_AT])


_CLOCK_AT = pytest.StashKey[datetime]()


@pytest.fixture(autouse=True)
def _test_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts at the ``--clock`` instant (the clock then runs on)."""
    at = request.config.stash.get(_CLOCK_AT, None)
    if at is None:
        yield
        return
    with clock.travel(at):
        yield


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSeaweed]:
    weed = EmbeddedSeaweed(tmp_path_factory.mktemp("seaweed"), S3_KEY, S3_SECRET)
    weed.start()
    yield weed
    weed.stop()


@pytest.fixture(scope="module")
def _tsa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTsa]:
    local = LocalTsa(tmp_path_factory.mktemp("tsa")).start()
    yield local
    local.stop()


@pytest.fixture
def tsa(_tsa_server: LocalTsa) -> Iterator[LocalTsa]:
    """A real RFC 3161 authority (tests/tsa.py), answering (``fail`` False) at each test's start."""
    _tsa_server.fail = False
    yield _tsa_server
    _tsa_server.fail = False


@pytest.fixture(scope="session")
def bucket_names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "S3_BUCKET_ORIGINALS": f"orig-{suffix}",
        "S3_BUCKET_QUARANTINE": f"quar-{suffix}",
        "S3_BUCKET_DERIVATIVES": f"deriv-{suffix}",
        "S3_BUCKET_STAGING": f"stage-{suffix}",
    }


def _database_url(tmp_path: Path) -> tuple[str, str | None]:
    if not PG_URL:
        return f"sqlite:///{tmp_path / 'test.db'}", None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture
def app_config(
    tmp_path: Path, seaweed: EmbeddedSeaweed, bucket_names: dict[str, str]
) -> Iterator[dict[str, Any]]:
    url, schema = _database_url(tmp_path)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_COST": "test",  # Argon2id at its least cost (tests/test_auth_cases.py)
        "DATA_DIR": tmp_path / "data",
        "SQLALCHEMY_DATABASE_URI": url,
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_ACCESS_KEY": S3_KEY,
        "S3_SECRET_KEY": S3_SECRET,
        "SIGNING_KEY_FILE": tmp_path / "data" / "signing.pem",
        "RETENTION_DAYS": 1,
        "QUEUE_IMMEDIATE": True,
        "UPLOAD_LOCK_SECONDS": 5,
        "LOGIN_FREE_FAILURES": 3,
        # Most tests upload without issuing a credential; 持证上岗 tests turn this on.
        "REQUIRE_CREDENTIAL": False,
        # The buckets serve the whole session; each test's audit log keeps its heads apart.
        "AUDIT_HEADS_PREFIX": f"audit-heads/{tmp_path.name}-{uuid.uuid4().hex[:8]}/",
        **bucket_names,
    }
    yield config
    if schema:
        engine = sa.create_engine(PG_URL)  # type: ignore[arg-type]
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def make_app(config: dict[str, Any]):
    app = create_app(**config)
    with app.app_context():
        db.create_all()
        app.extensions["fieldtrace"].storage.ensure_buckets()
    return app


@pytest.fixture
def app(app_config: dict[str, Any]):
    app = make_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class Actor:
    """A signed-in user with a bearer token."""

    id: int
    username: str
    role: str
    unit: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Users:
    """Creates users through the service and signs them in through the API."""

    def __init__(self, app, client) -> None:
        self.app = app
        self.client = client

    def create(self, username: str, role: str = "officer", unit: str = "U1") -> Actor:
        with self.app.app_context():
            user = create_user(
                db.session,
                username=username,
                password=PASSWORD,
                role=role,
                name=username.title(),
                unit_code=unit,
            )
            db.session.commit()
            user_id = user.id
        resp = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.json
        return Actor(user_id, username, role, unit, resp.json["token"])


@pytest.fixture
def users(app, client) -> Users:
    return Users(app, client)


def open_case(client, actor: Actor, **fields: Any) -> dict[str, Any]:
    body = {"title": "无证经营检查", "case_type": "市场监管", **fields}
    resp = client.post("/api/v1/cases", json=body, headers=actor.headers)
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on a real socket (threaded), for HTTP clients such as tuspy."""
    port = free_ports(1)[0]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(10)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sample_jpeg(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()
