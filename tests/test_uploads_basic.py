from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg, sha256_hex


def test_photo_upload_is_verified_and_locked(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    item_id = tus.upload(client, officer, case["id"], data)
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "verified"
    assert item["server_sha256"] == item["device_sha256"] == sha256_hex(data)
    assert item["hashes_match"] is True
    assert item["locked_until"] is not None
    body = client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers)
    assert body.status_code == 200 and body.data == data
