"""Links in QR codes carry the request's host: with TRUSTED_HOSTS set, a forged Host is refused."""

from __future__ import annotations

from tests.conftest import make_app


def test_forged_host_is_refused_and_the_real_one_served(app_config):
    app = make_app({**app_config, "TRUSTED_HOSTS": ["fieldtrace.test"]})
    client = app.test_client()
    ok = client.get("/healthz", headers={"Host": "fieldtrace.test"})
    assert ok.status_code == 200
    forged = client.get("/healthz", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert forged.json["error"]["code"] == "bad_request"
    public = client.get("/public/verify/x", headers={"Host": "evil.example"})
    assert public.status_code == 400
