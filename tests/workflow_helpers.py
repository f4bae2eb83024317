"""Driving a case through its workflow over the API: documents, signatures, stages."""

from __future__ import annotations

import base64
import copy
import io
import subprocess
from pathlib import Path
from typing import Any

from tests import tus_helpers as tus
from tests.conftest import Actor, open_case
from tests.test_documents_registry import SAMPLES

API = "/api/v1"


def signature_png(seed: int = 1) -> str:
    """A handwritten-looking stroke as the PNG data URL the on-screen pad sends."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (300, 120), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.line(
        [(10, 90), (60, 20 + seed % 40), (120, 100), (200, 30), (290, 80)], fill="black", width=4
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def tiny_mp4(path: Path, tone: int = 440) -> bytes:
    """A one-second H.264/AAC clip; a different ``tone`` gives different bytes (no dedup)."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10:duration=1",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={tone}:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def fields(doc_type: str, **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLES[doc_type])
    data.update(overrides)
    return data


class Flow:
    """Short calls for the steps of a case; each asserts the expected status."""

    def __init__(self, client, clips: Path | None = None) -> None:
        self.client = client
        self.clips = clips
        self._tone = 300

    def doc(self, actor: Actor, case_id: int, doc_type: str, **overrides: Any) -> str:
        resp = self.client.post(
            f"{API}/cases/{case_id}/documents",
            json={"type": doc_type, "fields": fields(doc_type, **overrides)},
            headers=actor.headers,
        )
        assert resp.status_code == 201, resp.json
        return resp.json["id"]

    def sign(
        self,
        actor: Actor,
        doc_id: str,
        role: str,
        name: str = "签名人",
        expect: int = 201,
        shown: str | None = None,
    ):
        """``shown``: the content hash the signer was shown (a leader signing a decision)."""
        body = {"role": role, "signer_name": name, "image": signature_png(len(name))}
        if shown:
            body["shown_content_sha256"] = shown
        resp = self.client.post(
            f"{API}/documents/{doc_id}/signatures", json=body, headers=actor.headers
        )
        assert resp.status_code == expect, resp.json
        return resp

    def shown(self, actor: Actor, doc_id: str) -> str:
        """What the leader's signing dialog checks first: the review match; its content hash."""
        resp = self.client.get(f"{API}/documents/{doc_id}/review-match", headers=actor.headers)
        assert resp.status_code == 200, resp.json
        assert resp.json["consistent"], resp.json
        return resp.json["content_sha256"]

    def issue(self, actor: Actor, doc_id: str, expect: int = 200):
        resp = self.client.post(f"{API}/documents/{doc_id}/issue", headers=actor.headers)
        assert resp.status_code == expect, resp.json
        return resp

    def full_doc(
        self,
        case_id: int,
        doc_type: str,
        signers: dict[str, Actor],
        creator: Actor,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Create, sign by every role in ``signers`` and issue; returns the issued document."""
        doc_id = self.doc(creator, case_id, doc_type, **overrides)
        for role, actor in signers.items():
            self.sign(actor, doc_id, role, name=actor.username)
        return self.issue(creator, doc_id).json

    def advance(self, actor: Actor, case_id: int, stage: str, expect: int = 200, **extra: Any):
        resp = self.client.post(
            f"{API}/cases/{case_id}/stage",
            json={"to_stage": stage, "reason": f"推进到{stage}", **extra},
            headers=actor.headers,
        )
        assert resp.status_code == expect, resp.json
        return resp

    def video(self, actor: Actor, case_id: int, stage: str, activity: str) -> str:
        """Upload a fresh clip (distinct bytes each time) as a video of this stage/activity."""
        assert self.clips is not None, "Flow(client, clips=tmp_dir) to upload videos"
        self._tone += 37
        data = tiny_mp4(self.clips / f"clip-{self._tone}.mp4", self._tone)
        return tus.upload(
            self.client,
            actor,
            case_id,
            data,
            stage=stage,
            activity=activity,
            content_type="video/mp4",
            filename="clip.mp4",
        )


def move_case_to(client, sup: Actor, case_id: int, stage: str, leader: Actor | None = None) -> None:
    """Test setup for features that only need a case at some stage: a supervisor (or the
    leader, for review → decision) advances step by step with a written override reason.
    The legal-review gate cannot be overridden, so this stops before ``decision``."""
    from server.workflow.rules import path

    # The completeness report (unlike GET /cases/<id>) is not audited as a view.
    case = client.get(f"{API}/cases/{case_id}/completeness", headers=sup.headers).json
    stages = path(case["procedure"])
    here = stages.index(case["current_stage"])
    for target in stages[here + 1 : stages.index(stage) + 1]:
        resp = client.post(
            f"{API}/cases/{case_id}/stage",
            json={
                "to_stage": target,
                "reason": "测试准备",
                "override_reason": "测试准备：越过缺项",
            },
            headers=sup.headers,
        )
        assert resp.status_code == 200, resp.json


def submitted_review(client, officer: Actor, officer2: Actor, sup: Actor) -> dict[str, Any]:
    """A 一般程序 case of two officers moved to 审查 and submitted for legal review (a warning)."""
    cid = open_case(client, officer, officer_ids=[officer2.id])["id"]
    move_case_to(client, sup, cid, "review")
    resp = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "r", "decision_draft": {"penalties": [{"kind": "warning"}]}},
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json
