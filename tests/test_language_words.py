"""Words a person reads: every pipeline flag and every audit action has a Chinese and an English
label (no code shown instead), the Chinese says no English, and the completeness report says
what is met as met and what is missing as missing."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from types import SimpleNamespace

import pytest

from media_pipeline import steps
from media_pipeline.flag_words import FLAG_WORDS
from media_pipeline.limits import RejectCode
from server.disclosure.service import penalty_summary
from server.documents import DOCUMENT_TYPES, describe, validate_fields
from server.services import workflow
from server.services.audit_words import ACTION_WORDS, DETAIL_WORDS, details_text
from server.workflow.rules import transition_from
from tests.test_documents_registry import SAMPLES, render, text_of

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]")
# Latin a Chinese sentence may hold: names of formats and standards people know by them.
ALLOWED_LATIN = {"SHA", "PDF", "QR", "GPS", "ID", "UTC", "JPEG", "PNG", "MP4", "m", "km", "s"}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z_]*")


def latin_words(text: str) -> list[str]:
    return [w for w in LATIN_WORD.findall(text) if w not in ALLOWED_LATIN]


def python_sources(*packages: str) -> list[Path]:
    return [
        p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts
    ]


def string_calls(path: Path, names: set[str], position: int) -> set[str]:
    """Literal strings passed as argument ``position`` to calls of ``names``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in names and len(node.args) > position:
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def raised_flag_codes() -> set[str]:
    codes = set(typing.get_args(RejectCode)) | set(steps.FLAG_MESSAGES_ZH)
    for path in python_sources("media_pipeline"):
        codes |= string_calls(path, {"add_flag"}, 2)
        codes |= string_calls(path, {"MediaRejected"}, 0)
    return codes


def test_every_flag_the_pipeline_raises_has_words():
    missing = sorted(raised_flag_codes() - set(FLAG_WORDS))
    assert missing == [], f"add these codes to media_pipeline/flag_words.py: {missing}"


def audit_actions() -> set[str]:
    """Every audit action the code records: literal ``action="x.y"`` keywords, literal actions
    handed to the audit helpers, and the disclosure/report helpers' f-string actions."""
    found: set[str] = set()
    prefixed = {
        "_record": {
            "service.py": "disclosure.decision_",
            "inspections.py": "disclosure.inspection_",
        },
        "_audit": {"report.py": "report."},
        "record": {
            "service.py": "disclosure.decision_",
            "inspections.py": "disclosure.inspection_",
        },
    }
    for path in python_sources("server", "media_pipeline"):
        tree = ast.parse(path.read_text())
        constants = {  # ISSUED = "playback_url.issued", then action=ISSUED
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                if isinstance(kw.value, ast.Name):
                    value = constants.get(kw.value.id)
                if kw.arg == "action" and isinstance(value, str) and "." in value:
                    found.add(value)
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for arg in node.args:
                if (
                    name in {"audit_read", "_audit_list", "audit_access", "record_access"}
                    and isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and re.fullmatch(r"[a-z_]+\.[a-z_]+", arg.value)
                ):
                    found.add(arg.value)
            prefix = prefixed.get(name, {}).get(path.name) if "disclosure" in path.parts else None
            if prefix and len(node.args) >= 4:
                arg = node.args[3]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(prefix + arg.value)
    return found


def test_every_audit_action_has_words():
    actions = audit_actions()
    assert {"upload.created", "playback_url.issued", "disclosure.decision_published"} <= actions
    missing = sorted(actions - set(ACTION_WORDS))
    assert missing == [], f"add these to ACTION_WORDS in server/services/audit_words.py: {missing}"


@pytest.mark.parametrize(
    ("table", "name"),
    [(FLAG_WORDS, "flag"), (ACTION_WORDS, "action"), (DETAIL_WORDS, "detail")],
)
def test_chinese_words_hold_no_english_and_english_no_chinese(table, name):
    for code, (zh, en) in table.items():
        assert zh and en, f"{name} {code}"
        assert latin_words(zh) == [], f"{name} {code}: {zh}"
        assert not CJK.search(en), f"{name} {code}: {en}"


def test_details_are_said_in_words_without_codes_or_library_english():
    bomb = {"code": "decompression_bomb", "message": "Image size (90000000 pixels) exceeds limit"}
    zh = details_text("media.flagged", bomb, "zh")
    assert zh == "异常：照片像素数超出上限，为防止解压炸弹未予解码"
    assert "exceeds" not in details_text("media.flagged", bomb, "en")
    moved = {"from": "filing", "to": "evidence", "reason": "放错了", "chosen": "filing"}
    assert "原环节：立案" in details_text("media.moved", moved, "zh")
    assert "from: Filing; to: Evidence collection" in details_text("media.moved", moved, "en")
    made = {"derivatives": ["thumbnail", "preview"], "sha256": {"thumbnail": "ab"}}
    assert details_text("media.derived", made, "zh") == "生成：缩略图、预览图"


# --- completeness wording ----------------------------------------------------------------------


def _facts(**case: object) -> workflow.CaseFacts:
    defaults = {
        "procedure": "general",
        "is_major": False,
        "major_property": False,
        "decision_draft": {"penalties": [{"kind": "fine", "amount": 500}]},
        "execution_records": [],
        "officers": [],
    }
    return workflow.CaseFacts(case=SimpleNamespace(**{**defaults, **case}), reached=["filing"])


def _doc(doc_type: str, stage: str) -> SimpleNamespace:
    return SimpleNamespace(doc_type=doc_type, stage=stage, number="沪市监立〔2026〕1号", fields={})


def test_met_is_said_as_met_and_missing_as_missing():
    facts = _facts()
    facts.kinds[("investigation", "onsite_inspection")] = {"video"}
    facts.kinds[("investigation", "random_inspection")] = {"photo"}
    checks = workflow.recording_checks(facts, "investigation")
    by_activity = {c.activity: c for c in checks if c.code == "activity_not_filmed"}
    filmed, unfilmed = by_activity["onsite_inspection"], by_activity["random_inspection"]
    assert filmed.met and "须" not in filmed.message and "只有照片" not in filmed.message
    assert filmed.message == "调查环节的现场检查已有音像记录"
    assert not unfilmed.met and "须全程音像记录" in unfilmed.message

    facts.issued["filing_approval"] = [_doc("filing_approval", "filing")]
    (doc_check,) = [c for c in workflow.stage_checks(facts, "filing") if c.kind == "document"]
    assert doc_check.met and doc_check.message.startswith("已出具《")
    (missing,) = [c for c in workflow.stage_checks(facts, "evidence") if c.kind == "document"]
    assert not missing.met and missing.message.startswith("须出具《")


def test_an_ordinary_case_is_not_called_a_major_decision():
    ordinary = {c.kind: c for c in workflow.stage_checks(_facts(), "review")}
    review, discussion = ordinary["legal_review"], ordinary["collective_discussion"]
    assert "重大执法决定" not in review.message and "须经法制审核同意" in review.message
    assert discussion.met and discussion.message == "非重大执法决定，无需集体讨论"
    major = {c.kind: c for c in workflow.stage_checks(_facts(is_major=True), "review")}
    assert major["legal_review"].message.startswith("重大执法决定须经法制审核同意")
    assert not major["collective_discussion"].met


def test_documents_needed_to_leave_a_stage_are_listed_under_that_stage():
    """The requirements shown under a stage are those of the move out of it."""
    facts = _facts()
    for stage in ("filing", "investigation", "evidence", "review", "decision"):
        needed = {
            t
            for req in transition_from("general", stage).needs
            if req["kind"] == "document"
            for t in req.get("types", req.get("any_of", []))
        }
        listed = " ".join(c.message for c in workflow.stage_checks(facts, stage))
        for doc_type in needed:
            assert workflow.doc_title(doc_type) in listed, (stage, doc_type)
            # and the documents screen offers it at this stage (document-types' needed_to_leave)
            assert stage in describe(DOCUMENT_TYPES[doc_type])["needed_to_leave"], doc_type


def test_public_penalty_summary_names_kinds_in_chinese():
    summary = penalty_summary([{"kind": "fine", "amount": 200000}, {"kind": "warning"}])
    assert summary == "罚款200000元；警告"
    assert penalty_summary([{"kind": "some_new_kind"}]) == "其他"


# --- PDFs in Chinese -----------------------------------------------------------------------------

SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
HEXISH = re.compile(r"[0-9a-f]+")


def english_in(text: str, data: tuple[str, ...] = ()) -> list[str]:
    """Latin words and snake_case codes in a Chinese text, less the given data values."""
    for value in data:
        text = text.replace(value, " ")
    return sorted(set(SNAKE_CODE.findall(text)) | set(latin_words(text)))


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_every_document_pdf_speaks_chinese(code):
    text = text_of(render(code, validate_fields(code, SAMPLES[code])))
    # data typed into the sample forms may hold Latin (ids, plates, units of measure)
    data = tuple(str(v) for v in _leaves(SAMPLES[code]) if isinstance(v, str))
    assert english_in(text, data) == [], code


def _leaves(value: object):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


# --- public pages (server-rendered, Chinese) ----------------------------------------------------


def page_text(html: str) -> str:
    """What a reader sees: the body's text without tags, scripts and styles."""
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    html = re.sub(r"(?s)<code\b.*?</code>", " ", html)  # commands and keys, typed as they are
    body = re.search(r"(?s)<body\b.*?</body>", html)
    text = re.sub(r"<[^>]+>", " ", body.group(0) if body else html)
    return re.sub(r"&[a-z]+;|&#\d+;", " ", text)


def test_public_pages_speak_chinese(app, client, users):
    from server import clock
    from server.disclosure import service
    from server.disclosure.service import DecisionSource
    from server.extensions import db

    users.create("pub_admin", role="admin", unit="PUB")
    today = clock.today()
    with app.app_context():
        from server.models import Unit

        unit = db.session.execute(db.select(Unit).where(Unit.code == "PUB")).scalar_one()
        src = DecisionSource(
            unit_id=unit.id,
            case_id=None,
            document_id=None,
            number="沪市监罚〔2026〕7号",
            title="某某商行销售过期食品案",
            decided_at=today,
            party_kind="legal",
            party_name="某某商行",
            other_names=[],
            facts="当事人销售超过保质期的食品。",
            legal_basis="《中华人民共和国食品安全法》第一百二十四条",
            penalties=[{"kind": "fine", "amount": 200000}, {"kind": "warning"}],
            sensitive=None,
        )
        pd = service.prepare_publication(db.session, src, due_by=today)
        service.publish_due(db.session, today)
        db.session.commit()
        decision_id = pd.id
    pages = [
        "/public/",
        "/public/units/PUB/",
        "/public/units/PUB/decisions",
        f"/public/decisions/{decision_id}",
        "/public/units/PUB/inspection-results",
        "/public/units/PUB/officers",
        "/public/units/PUB/powers",
        "/public/units/PUB/procedures",
        "/public/units/PUB/remedies",
        "/public/units/PUB/random-inspections",
        "/public/units/PUB/reports/",
        "/public/signing-keys",
    ]
    data = ("PUB", "pub_admin", "Pub_Admin", "Ed25519", "UNAUTHENTICATED", "C2PA")
    problems = {}
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        leaked = english_in(page_text(resp.get_data(as_text=True)), data)
        leaked = [w for w in leaked if not HEXISH.fullmatch(w)]
        if leaked:
            problems[url] = leaked
    assert problems == {}
    decision_page = page_text(client.get(f"/public/decisions/{decision_id}").get_data(as_text=True))
    assert "罚款200000元；警告" in decision_page


def test_custody_pdf_speaks_one_language(client, users):
    import io

    from pypdf import PdfReader

    from tests import tus_helpers as tus
    from tests.conftest import open_case, sample_jpeg

    officer = users.create("cp_officer")
    sup = users.create("cp_sup", role="supervisor")
    case = open_case(client, officer, title="占道经营检查")
    # a JPEG declared as PNG: flagged, with the pipeline's English sentence stored beside it
    item = tus.upload(
        client, officer, case["id"], sample_jpeg(), filename="scene.png", content_type="image/png"
    )
    client.post(
        f"/api/v1/media/{item}/bookmarks",
        json={"at_s": 0, "note": "当事人拒绝签字"},
        headers=sup.headers,
    )

    def text(lang: str) -> str:
        resp = client.get(f"/api/v1/media/{item}/custody.pdf?lang={lang}", headers=sup.headers)
        assert resp.status_code == 200
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages)

    zh = text("zh")
    data = ("cp_officer", "cp_sup", "Cp_Officer", "Cp_Sup", "scene.png", "phone-1", case["number"])
    leaked = [w for w in english_in(zh, data) if not HEXISH.fullmatch(w)]
    assert leaked == []
    assert "文件实际类型与声明类型不符" in "".join(zh.split())
    en = text("en")
    for value in (*data, "当事人拒绝签字", "占道经营检查"):
        en = en.replace(value, " ")
    assert not CJK.search(en), [line for line in en.splitlines() if CJK.search(line)]


def test_case_file_cover_and_catalogue_speak_chinese(client, users):
    """The exported case file's own PDFs (案卷封面, the draft 案卷目录): no codes, no English."""
    import io
    import zipfile

    from pypdf import PdfReader

    from tests import tus_helpers as tus
    from tests.conftest import open_case, sample_jpeg
    from tests.workflow_helpers import Flow

    officer = users.create("cf_officer")
    sup = users.create("cf_sup", role="supervisor")
    case = open_case(client, officer, title="占道经营检查")
    tus.upload(client, officer, case["id"], sample_jpeg(), filename="scene.jpg")
    filing = Flow(client).full_doc(
        case["id"], "filing_approval", {"officer": officer, "approver": sup}, officer
    )
    resp = client.get(f"/api/v1/cases/{case['id']}/archive.zip", headers=sup.headers)
    assert resp.status_code == 200, resp.status_code
    data = resp.data
    resp.close()
    data_values = (
        "cf_officer",
        "cf_sup",
        "Cf_Officer",
        "Cf_Sup",
        "U1",
        case["number"],
        filing["number"],
        *(v for v in _leaves(SAMPLES["filing_approval"]) if isinstance(v, str)),
    )
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in ("cover.pdf", "catalogue.pdf"):
            reader = PdfReader(io.BytesIO(zf.read(name)))
            text = "\n".join(page.extract_text() for page in reader.pages)
            leaked = [w for w in english_in(text, data_values) if not HEXISH.fullmatch(w)]
            assert leaked == [], (name, leaked)
            if name == "cover.pdf":
                assert "照片1" in "".join(text.split())  # the kind in words, not "photo"


def test_report_notes_frozen_with_an_english_aside_read_in_chinese():
    from server.disclosure.report import FROZEN_NOTE_WORDS, note_words

    for frozen, shown in FROZEN_NOTE_WORDS.items():
        assert latin_words(frozen) and note_words(frozen) == shown
        assert latin_words(shown) == [], shown
    assert note_words("由管理员依据统计台账录入") == "由管理员依据统计台账录入"
