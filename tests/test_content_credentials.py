"""C2PA content credentials on what an export lets out (issue 16): a real export's photo
preview, video proxy and issued PDF carry manifests that c2pa's own Reader validates, naming
the original by its SHA-256 and what was done; a changed byte breaks them; the stored files
(originals and derivatives) are never touched."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import c2pa
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.archive import verify
from server.extensions import db
from server.models import Derivative, MediaItem
from server.runtime import runtime
from server.services.content_credentials import (
    ContentCredentials,
    Original,
    make_unit_certificates,
)
from server.services.signing import Signer, key_fingerprint
from tests import tus_helpers as tus
from tests.conftest import make_app, open_case, sample_jpeg
from tests.test_archive_integrity import _rewrite
from tests.tsa import LocalTsa
from tests.workflow_helpers import API, Flow, move_case_to

UNTRUSTED = "signingCredential.untrusted"


def _read(data: bytes, fmt: str, trust_anchor: bytes | None = None) -> c2pa.Reader:
    if trust_anchor is None:
        return c2pa.Reader(fmt, io.BytesIO(data))
    context = c2pa.Context.from_dict(
        {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchor.decode()}}
    )
    return c2pa.Reader(fmt, io.BytesIO(data), context=context)


def _failures(reader: c2pa.Reader) -> list[str]:
    return [f["code"] for f in reader.get_validation_results()["activeManifest"]["failure"]]


def _actions(manifest: dict[str, Any]) -> list[str]:
    [actions] = [a for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2"]
    for action in actions["data"]["actions"]:
        assert action["softwareAgent"] == {"name": "Fieldtrace"}
    return [a["action"] for a in actions["data"]["actions"]]


def _original(manifest: dict[str, Any]) -> dict[str, Any]:
    [original] = [a for a in manifest["assertions"] if a["label"] == "org.fieldtrace.original"]
    return original["data"]


def _flip_in_image_data(data: bytes) -> bytes:
    """One bit changed in the JPEG's entropy-coded data (after start of scan). The scan is
    found by walking the segments: the bytes FF DA can also occur inside the C2PA manifest's
    APP11 segments (signatures and hashes), and a bit flipped there is another failure."""
    at = 2  # after SOI
    while data[at + 1] != 0xDA:
        assert data[at] == 0xFF, f"not a JPEG segment at {at}"
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    sos = at
    changed = bytearray(data)
    changed[sos + 40] ^= 0x01
    return bytes(changed)


@pytest.fixture()
def exported(app, client, users, tmp_path):
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    flow = Flow(client, clips=tmp_path)
    cid = open_case(client, officer, procedure="simple")["id"]
    photo = tus.upload(client, officer, cid, sample_jpeg(1600, 1200))
    video = flow.video(officer, cid, "filing", "onsite_inspection")
    move_case_to(client, sup, cid, "execution")
    doc = flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    resp = client.get(f"{API}/cases/{cid}/archive.zip?originals=1", headers=sup.headers)
    assert resp.status_code == 200, resp.data[:300]
    data = resp.data
    resp.close()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with app.app_context():
        items = {i: db.session.get(MediaItem, i) for i in (photo, video)}
        originals = {i: (m.server_sha256, m.detected_content_type) for i, m in items.items()}
        stored = {
            (d.media_item_id, d.name): (d.sha256, runtime().storage.sha256(d.bucket, d.object_key))
            for d in db.session.execute(sa.select(Derivative)).scalars()
        }
        originals_now = {
            i: runtime().storage.sha256(m.bucket, m.object_key, version_id=m.object_version)
            for i, m in items.items()
        }
        public_key = runtime().signer.public_key_hex
    ca = client.get("/public/signing-keys/c2pa-ca.pem")
    chain = client.get("/public/signing-keys/c2pa-chain.pem")
    assert ca.status_code == chain.status_code == 200
    return {
        "data": data,
        "members": members,
        "manifest": json.loads(members["manifest.json"]),
        "photo": photo,
        "video": video,
        "doc": doc,
        "originals": originals,
        "originals_now": originals_now,
        "stored": stored,
        "public_key": public_key,
        "ca": ca.data,
        "chain": chain.data,
    }


def _derivative(exported: dict[str, Any], media_id: str, name: str) -> dict[str, Any]:
    [item] = [i for i in exported["manifest"]["items"] if i["id"] == media_id]
    [row] = [d for d in item["derivatives"] if d["name"] == name]
    return row


def test_photo_preview_carries_a_manifest_naming_the_original_and_the_resize(exported):
    row = _derivative(exported, exported["photo"], "preview")
    data = exported["members"][row["path"]]
    reader = _read(data, "image/jpeg")
    # The self-made unit CA is in no reader's trust list: that is the one failure, and the
    # binding, signature and every assertion check out.
    assert reader.get_validation_state() == "Valid"
    assert _failures(reader) == [UNTRUSTED]
    codes = {s["code"] for s in reader.get_validation_results()["activeManifest"]["success"]}
    assert {"claimSignature.validated", "assertion.dataHash.match"} <= codes
    manifest = reader.get_active_manifest()
    sha, content_type = exported["originals"][exported["photo"]]
    [ingredient] = manifest["ingredients"]
    assert ingredient["title"] == f"sha256:{sha}"
    assert ingredient["relationship"] == "parentOf"
    assert _original(manifest) == {
        "kind": "media",
        "id": exported["photo"],
        "sha256": sha,
        "content_type": content_type,
    }
    assert _actions(manifest) == ["c2pa.opened", "c2pa.resized"]
    assert row["content_credentials"]["actions"] == ["c2pa.resized"]
    assert manifest["signature_info"]["alg"] == "Es256"

    # Whoever adds the unit's published CA to their trust anchors gets no failure at all.
    trusted = _read(data, "image/jpeg", trust_anchor=exported["ca"])
    assert trusted.get_validation_state() == "Trusted"
    assert _failures(trusted) == []


def test_one_changed_byte_of_image_data_breaks_the_hash(exported):
    row = _derivative(exported, exported["photo"], "preview")
    reader = _read(_flip_in_image_data(exported["members"][row["path"]]), "image/jpeg")
    assert reader.get_validation_state() == "Invalid"
    assert _failures(reader) == [UNTRUSTED, "assertion.dataHash.mismatch"]


def test_video_proxy_carries_a_manifest_naming_the_transcode(exported):
    row = _derivative(exported, exported["video"], "proxy")
    data = exported["members"][row["path"]]
    reader = _read(data, "video/mp4")
    assert reader.get_validation_state() == "Valid"
    assert _failures(reader) == [UNTRUSTED]
    manifest = reader.get_active_manifest()
    sha, _ = exported["originals"][exported["video"]]
    assert manifest["ingredients"][0]["title"] == f"sha256:{sha}"
    assert _actions(manifest) == ["c2pa.opened", "c2pa.transcoded"]
    # a frame of a video, as a JPEG: converted and resized
    poster = _read(
        exported["members"][_derivative(exported, exported["video"], "poster")["path"]],
        "image/jpeg",
    )
    assert _actions(poster.get_active_manifest()) == [
        "c2pa.opened",
        "c2pa.converted",
        "c2pa.resized",
    ]

    changed = bytearray(data)
    mdat = data.index(b"mdat")
    changed[mdat + 200] ^= 0x01
    broken = _read(bytes(changed), "video/mp4")
    assert broken.get_validation_state() == "Invalid"
    assert _failures(broken) == [UNTRUSTED, "assertion.bmffHash.mismatch"]


def test_issued_pdf_gets_a_credentialed_copy_beside_the_unchanged_one(exported):
    [doc] = [d for d in exported["manifest"]["documents"] if d["id"] == exported["doc"]["id"]]
    issued = exported["members"][doc["path"]]
    assert hashlib.sha256(issued).hexdigest() == doc["sha256"]  # as issued, byte for byte
    credentialed = doc["content_credentials"]
    copy = exported["members"][credentialed["path"]]
    assert credentialed["path"] == f"credentialed/{doc['path']}"
    reader = _read(copy, "application/pdf")
    assert reader.get_validation_state() == "Valid"
    assert _failures(reader) == [UNTRUSTED]
    manifest = reader.get_active_manifest()
    assert manifest["ingredients"][0]["title"] == f"sha256:{doc['sha256']}"
    assert _original(manifest)["kind"] == "document"
    assert _actions(manifest) == ["c2pa.opened", "c2pa.published"]


def test_stored_files_are_untouched_and_the_archive_verifies(exported):
    for (_, _name), (recorded, now) in exported["stored"].items():
        assert now == recorded  # derivatives in the bucket are as the pipeline made them
    for media_id, now in exported["originals_now"].items():
        assert now == exported["originals"][media_id][0]
    for media_id in (exported["photo"], exported["video"]):
        for name in ("thumbnail",) + (("preview",) if media_id == exported["photo"] else ()):
            row = _derivative(exported, media_id, name)
            assert row["sha256"] == exported["stored"][(media_id, name)][0]
            assert row["content_credentials"]["sha256"] != row["sha256"]
    # originals go out as they are kept: their own bytes, no manifest
    for item in exported["manifest"]["items"]:
        original = exported["members"][item["original_path"]]
        assert hashlib.sha256(original).hexdigest() == item["server_sha256"]
        fmt = "image/jpeg" if item["kind"] == "photo" else "video/mp4"
        with pytest.raises(c2pa.C2paError.ManifestNotFound):
            c2pa.Reader(fmt, io.BytesIO(original))
    report = verify.verify_archive(io.BytesIO(exported["data"]), exported["public_key"])
    assert report.authentic, report.problems
    assert report.summary["content_credentials"] >= 5


def test_verify_py_finds_a_credentialed_jpeg_that_is_not_the_recorded_derivative(exported):
    """A forger re-signs the archive over a preview whose pixels were changed: the manifest
    lists the new file's hash, but the file less its C2PA segments is not what was derived."""
    row_path = _derivative(exported, exported["photo"], "preview")["path"]

    def edit(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
        members[row_path] = _flip_in_image_data(members[row_path])
        for item in manifest["items"]:
            for d in item["derivatives"]:
                if d["path"] == row_path:
                    credentials = d["content_credentials"]
                    credentials["sha256"] = hashlib.sha256(members[row_path]).hexdigest()

    forged = _rewrite(exported["data"], edit, Ed25519PrivateKey.generate())
    problems = verify.verify_archive(io.BytesIO(forged)).problems
    assert any(
        f"{row_path} without its C2PA manifest is not the derivative recorded" in p
        for p in problems
    ), problems


def test_the_unit_chain_is_derived_from_the_audit_key_the_same_on_every_node(tmp_path: Path):
    """Two nodes holding the cluster's audit key publish byte-identical chains (no per-node
    CA); another audit key is another CA; the CA names the audit key it comes from."""
    key_file = tmp_path / "audit.pem"
    node_a = ContentCredentials(Signer(key_file))
    chain = node_a.chain_pem
    node_b = ContentCredentials(Signer(key_file))
    assert node_b.chain_pem == chain and node_b.ca_pem == node_a.ca_pem
    other = ContentCredentials(Signer(tmp_path / "other.pem"))
    assert other.ca_pem != node_a.ca_pem
    info = node_a.certificate_info()
    fingerprint = key_fingerprint(Signer(key_file).public_key_hex)
    assert f"OU=audit key {fingerprint}" in info["issuer"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.pem", "other.pem"]
    # what node B signs, node A's published CA trusts
    signed = node_b.sign_bytes(
        sample_jpeg(),
        content_type="image/jpeg",
        title="preview.jpg",
        original=Original(sha256="cd" * 32, content_type="image/jpeg", id="m2"),
        actions=["c2pa.resized"],
    )
    assert _read(signed, "image/jpeg", trust_anchor=node_a.ca_pem).get_validation_state() == (
        "Trusted"
    )


def test_a_configured_certificate_is_used_instead(tmp_path: Path):
    ca, cert, key = make_unit_certificates("某市市场监督管理局")
    (tmp_path / "chain.pem").write_bytes(cert + ca)
    (tmp_path / "key.pem").write_bytes(key)
    creds = ContentCredentials(
        Signer(tmp_path / "audit.pem"),
        cert_file=tmp_path / "chain.pem",
        key_file=tmp_path / "key.pem",
    )
    signed = creds.sign_bytes(
        sample_jpeg(),
        content_type="image/jpeg",
        title="preview.jpg",
        original=Original(sha256="ab" * 32, content_type="image/jpeg", id="m1"),
        actions=["c2pa.resized"],
    )
    assert not (tmp_path / "audit.pem").exists()  # nothing derived: the audit key unused
    reader = _read(signed, "image/jpeg", trust_anchor=ca)
    assert reader.get_validation_state() == "Trusted"
    assert "某市市场监督管理局" in reader.get_active_manifest()["signature_info"]["issuer"]


class TestTrustedTime:
    """With a time-stamping authority configured (the one the log's heads use), the copies'
    C2PA signatures carry its RFC 3161 timestamp; a TSA that is down costs the timestamp,
    not the export."""

    @pytest.fixture
    def app(self, app_config, tsa: LocalTsa):
        app = make_app({**app_config, "TSA_URL": tsa.url, "TSA_CA_FILE": str(tsa.ca_file)})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    def _export_preview(self, client, users) -> tuple[dict[str, Any], bytes]:
        officer, sup = users.create("li"), users.create("zhang", role="supervisor")
        cid = open_case(client, officer, procedure="simple")["id"]
        photo = tus.upload(client, officer, cid, sample_jpeg(1600, 1200))
        resp = client.get(f"{API}/cases/{cid}/archive.zip", headers=sup.headers)
        assert resp.status_code == 200, resp.data[:300]
        data = resp.data
        resp.close()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            [item] = [i for i in manifest["items"] if i["id"] == photo]
            [row] = [d for d in item["derivatives"] if d["name"] == "preview"]
            return row, zf.read(row["path"])

    def test_copies_are_timestamped(self, client, users):
        row, data = self._export_preview(client, users)
        assert row["content_credentials"]["timestamped"] is True
        reader = _read(data, "image/jpeg")
        results = reader.get_validation_results()["activeManifest"]
        assert reader.get_validation_state() == "Valid"
        assert _failures(reader) == [UNTRUSTED]
        assert "timeStamp.validated" in {s["code"] for s in results["success"]}
        # the test TSA's own root is in no trust list either: informational, not a failure
        assert "timeStamp.untrusted" in {s["code"] for s in results["informational"]}
        assert reader.get_active_manifest()["signature_info"]["time"]

    def test_a_tsa_that_is_down_costs_the_timestamp_not_the_export(self, client, users, tsa):
        tsa.fail = True
        row, data = self._export_preview(client, users)
        assert row["content_credentials"]["timestamped"] is False
        reader = _read(data, "image/jpeg")
        assert reader.get_validation_state() == "Valid"
        assert _failures(reader) == [UNTRUSTED]
        assert "time" not in reader.get_active_manifest()["signature_info"]


def test_the_unit_ca_is_published_beside_the_signing_keys(app, client):
    page = client.get("/public/signing-keys").get_data(as_text=True)
    listed = client.get("/public/signing-keys.json").get_json()["content_credentials"]
    ca = client.get("/public/signing-keys/c2pa-ca.pem")
    assert ca.headers["Content-Type"] == "application/x-pem-file"
    with app.app_context():
        creds = runtime().credentials
        assert ca.data == creds.ca_pem
        assert client.get("/public/signing-keys/c2pa-chain.pem").data == creds.chain_pem
        fingerprint = key_fingerprint(runtime().signer.public_key_hex)
    root = x509.load_pem_x509_certificate(ca.data)
    assert listed["ca_sha256"] == root.fingerprint(hashes.SHA256()).hex()
    assert listed["algorithm"] == "ES256" and f"audit key {fingerprint}" in listed["issuer"]
    assert "/public/signing-keys/c2pa-ca.pem" in page and listed["ca_sha256"] in page


def test_a_half_or_mismatched_configuration_refuses_to_start(app_config, tmp_path: Path):
    ca, cert, key = make_unit_certificates("某市市场监督管理局")
    _, other_cert, _ = make_unit_certificates("另一单位")
    (tmp_path / "chain.pem").write_bytes(cert + ca)
    (tmp_path / "other.pem").write_bytes(other_cert + ca)
    (tmp_path / "key.pem").write_bytes(key)
    with pytest.raises(RuntimeError, match="FIELDTRACE_C2PA_CERT and FIELDTRACE_C2PA_KEY go"):
        make_app({**app_config, "C2PA_CERT": str(tmp_path / "chain.pem")})
    with pytest.raises(RuntimeError, match="is not for FIELDTRACE_C2PA_KEY"):
        ContentCredentials(
            Signer(tmp_path / "audit.pem"),
            cert_file=tmp_path / "other.pem",
            key_file=tmp_path / "key.pem",
        )
