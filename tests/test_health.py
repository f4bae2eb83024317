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
