"""The OpenAPI document describes every route the app serves."""

import re

from server.api.openapi import build_spec


def test_every_route_is_documented(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("pwa."):
            continue  # the PWA's static files, not the API
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in (
            rule.methods - {"HEAD", "OPTIONS"}
            if rule.rule != "/api/v1/uploads/<upload_id>"
            else rule.methods - {"OPTIONS"}
        ):
            served.add((path, method))
    missing = served - documented
    assert not missing, f"undocumented routes: {sorted(missing)}"


def test_schemas_are_referenced():
    spec = build_spec()
    assert {"Case", "MediaItem", "Custody", "Error", "Token"} <= set(spec["components"]["schemas"])
