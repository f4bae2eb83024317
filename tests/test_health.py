"""Liveness and readiness probes."""

from server import create_app
from server.storage.embedded import free_ports


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "storage": "ok", "queue": "ok"}


def test_readyz_names_what_is_down(app_config):
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    app = create_app(**{**app_config, "S3_ENDPOINT_URL": dead})
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["status"] == "unavailable"
    assert resp.json["checks"]["storage"].startswith("error")
    assert resp.json["checks"]["database"] == "ok"
    from server.extensions import db

    with app.app_context():
        db.engine.dispose()


def test_unknown_api_path_is_a_json_404(client):
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def _ready_within(app, seconds: float = 2.0):
    import time

    started = time.monotonic()
    resp = app.test_client().get("/readyz")
    elapsed = time.monotonic() - started
    assert elapsed < seconds, elapsed
    return resp, elapsed


def test_readyz_answers_503_within_2_s_when_a_service_hangs(app_config):
    """Each of S3, the database and the queue replaced by a listener that accepts TCP
    connections and never answers; a second call while it still hangs is as quick."""
    from server.extensions import db
    from tests.tcp_fault import SilentListener

    hung = SilentListener()
    at = f"127.0.0.1:{hung.port}"
    try:
        for name, overrides in {
            "storage": {"S3_ENDPOINT_URL": f"http://{at}"},
            "database": {"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@{at}/x"},
            "queue": {"QUEUE_URL": f"redis://{at}/0", "QUEUE_IMMEDIATE": False},
        }.items():
            app = create_app(**{**app_config, **overrides})
            for _ in range(2):
                resp, elapsed = _ready_within(app)
                print(f"readyz with {name} hung: {resp.status_code} in {elapsed:.2f} s")
                assert resp.status_code == 503
                assert resp.json["checks"][name] in ("error: timeout", "error: still waiting")
                others = {k: v for k, v in resp.json["checks"].items() if k != name}
                assert set(others.values()) == {"ok"}, others
            with app.app_context():
                db.engine.dispose()
    finally:
        hung.close()
