"""The enforcement document registry (schemas, form descriptions) and its PDF rendering."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError
from PIL import Image, ImageDraw
from pypdf import PdfReader

from server.documents import DOCUMENT_TYPES, describe, dump_fields, get_type, validate_fields
from server.documents.registry import SIGNER_ROLES
from server.documents.render import (
    RenderInput,
    SignatureImage,
    render_pdf,
    render_signature_check,
)
from server.domain import Activity, Stage

TITLES = {
    "filing_approval": "立案审批表",
    "onsite_inspection_record": "现场检查(勘验)笔录",
    "inquiry_record": "询问笔录",
    "sampling_notice": "抽样取证通知书",
    "evidence_preservation_notice": "先行登记保存证据通知书",
    "coercive_measure_decision": "查封(扣押)决定书",
    "prior_notice": "行政处罚事先告知书",
    "statement_record": "陈述申辩笔录",
    "hearing_notice": "听证告知书",
    "hearing_record": "听证笔录",
    "investigation_report": "调查终结报告",
    "collective_discussion_record": "案件集体讨论笔录",
    "legal_review_opinion": "法制审核意见书",
    "penalty_decision": "行政处罚决定书",
    "onsite_penalty_decision": "当场行政处罚决定书",
    "rectification_order": "责令(限期)改正通知书",
    "service_receipt": "送达回证",
    "closing_report": "结案报告",
    "case_catalogue": "案卷目录",
}

PERSON = {
    "type": "natural",
    "name": "张三",
    "id_type": "居民身份证",
    "id_number": "110101199001011234",
    "address": "某市某区幸福路1号",
    "phone": "13800000000",
}
COMPANY = {
    "type": "legal",
    "name": "某某食品有限公司",
    "id_type": "统一社会信用代码",
    "id_number": "91110000MA01234567",
    "address": "某市某区工业园8号",
    "legal_representative": "李四",
}
OFFICERS = [
    {"name": "王五", "badge_number": "11010001"},
    {"name": "赵六", "badge_number": "11010002"},
]
FINE = {"kind": "fine", "amount": "5000", "description": "罚款人民币伍仟元"}

# One valid form per type; `text` is a value the rendered PDF must show.
SAMPLES: dict[str, dict[str, Any]] = {
    "filing_approval": {
        "cause": "涉嫌销售过期食品案",
        "source": "complaint",
        "received_on": "2026-11-20",
        "party": COMPANY,
        "summary": "接群众举报，当事人货架上陈列超过保质期的酸奶。",
        "officer_opinion": "建议立案调查。",
    },
    "onsite_inspection_record": {
        "inspected_at": "2026-11-21T09:30:00+08:00",
        "place": "某市某区工业园8号仓库",
        "party": COMPANY,
        "inspectors": OFFICERS,
        "credential_shown": True,
        "findings": "仓库内存放超过保质期的酸奶共计12箱。",
        "party_statement": "对检查情况无异议。",
    },
    "inquiry_record": {
        "started_at": "2026-11-21T10:00:00+08:00",
        "ended_at": "2026-11-21T10:45:00+08:00",
        "place": "某市市场监督管理局询问室",
        "interviewer": "王五",
        "recorder": "赵六",
        "interviewee": PERSON,
        "relation": "仓库管理员",
        "credential_shown": True,
        "qa": [{"q": "这些酸奶是谁进的货？", "a": "是公司采购部进的货。"}],
    },
    "sampling_notice": {
        "party": COMPANY,
        "sampled_at": "2026-11-21T11:00:00+08:00",
        "place": "某市某区工业园8号仓库",
        "legal_basis": "《中华人民共和国行政处罚法》第五十六条",
        "samples": [{"name": "原味酸奶", "batch_number": "20261001", "quantity": "6盒"}],
    },
    "evidence_preservation_notice": {
        "party": COMPANY,
        "reason": "证据可能灭失",
        "legal_basis": "《中华人民共和国行政处罚法》第五十六条",
        "items": [{"name": "过期酸奶", "quantity": "12箱"}],
        "storage_place": "当事人仓库东侧货架",
        "storage_method": "onsite",
        "starts_on": "2026-11-21",
        "period_days": 7,
    },
    "coercive_measure_decision": {
        "party": COMPANY,
        "measure": "seize",
        "reason": "涉嫌销售超过保质期的食品，有证据表明可能危害人体健康。",
        "legal_basis": "《中华人民共和国食品安全法》第一百一十条第四项",
        "items": [
            {"name": "过期酸奶", "quantity": "12箱", "place": "当事人仓库东侧货架"},
            {"name": "冷藏柜", "quantity": "1台"},
        ],
        "period_days": 30,
        "place": "某市某区工业园8号仓库",
        "remedy": "如不服本决定，可在六十日内申请行政复议或六个月内提起行政诉讼。",
    },
    "prior_notice": {
        "party": COMPANY,
        "facts": "当事人销售超过保质期的食品。",
        "evidence": "现场检查笔录、询问笔录、进货单据。",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
        "proposed_penalties": [FINE, {"kind": "confiscation", "description": "没收过期酸奶12箱"}],
        "rights": {"statement": True, "defence": True, "hearing": True},
        "deadline_days": 5,
    },
    "statement_record": {
        "held_at": "2026-11-25T14:00:00+08:00",
        "place": "某市市场监督管理局",
        "officers": "王五、赵六",
        "recorder": "赵六",
        "party": COMPANY,
        "statement": "我公司系初次违法，已主动下架全部过期产品。",
    },
    "hearing_notice": {
        "party": COMPANY,
        "hearing_at": "2026-12-02T09:00:00+08:00",
        "place": "某市市场监督管理局听证室",
        "host": "孙七",
        "public": True,
    },
    "hearing_record": {
        "started_at": "2026-12-02T09:00:00+08:00",
        "place": "某市市场监督管理局听证室",
        "host": "孙七",
        "recorder": "周八",
        "investigators": "王五、赵六",
        "party": COMPANY,
        "public": True,
        "investigators_case": "当事人销售过期食品，建议罚款伍仟元。",
        "party_defence": "请求从轻处罚。",
    },
    "investigation_report": {
        "party": COMPANY,
        "cause": "涉嫌销售过期食品案",
        "investigation": "2026年11月21日现场检查并询问相关人员。",
        "facts": "当事人销售超过保质期的酸奶12箱。",
        "evidence": "现场检查笔录等。",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
        "proposal": "penalty",
        "proposed_penalties": [FINE],
        "officers": "王五、赵六",
    },
    "collective_discussion_record": {
        "held_at": "2026-11-28T15:00:00+08:00",
        "place": "局三楼会议室",
        "host": "钱局长",
        "recorder": "周八",
        "participants": [
            {"name": "钱局长", "position": "局长"},
            {"name": "孙七", "position": "法规科科长"},
        ],
        "discussion": "与会人员一致认为事实清楚、证据确凿。",
        "conclusion": "同意给予罚款伍仟元的行政处罚。",
    },
    "legal_review_opinion": {
        "checklist": [
            {"item": "执法主体是否合法", "passed": True},
            {"item": "事实是否清楚", "passed": True, "note": "证据充分"},
        ],
        "opinion": "事实清楚，证据确凿，适用依据正确，程序合法。",
        "outcome": "agree",
        "reviewer": "孙七",
        "reviewed_on": "2026-11-26",
    },
    "penalty_decision": {
        "party": COMPANY,
        "facts": "当事人销售超过保质期的酸奶12箱。",
        "evidence": "现场检查笔录、询问笔录。",
        "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
        "penalties": [FINE],
        "payment": "自收到本决定书之日起十五日内缴至指定银行。",
        "remedy": "如不服本决定，可在六十日内申请行政复议或六个月内提起行政诉讼。",
    },
    "onsite_penalty_decision": {
        "party": PERSON,
        "occurred_at": "2026-11-21T16:20:00+08:00",
        "place": "某区步行街",
        "facts": "占道经营。",
        "legal_basis": "《某市市容环境卫生管理条例》第二十条",
        "penalties": [{"kind": "fine", "amount": "200"}],
        "payment": "当场缴纳。",
        "remedy": "如不服本决定，可依法申请行政复议或者提起行政诉讼。",
        "officers": OFFICERS,
    },
    "rectification_order": {
        "party": COMPANY,
        "violation": "未按规定贮存食品。",
        "legal_basis": "《中华人民共和国食品安全法》第五十四条",
        "requirements": "清理过期食品并建立定期检查制度。",
        "deadline": "2026-12-05",
    },
    "service_receipt": {
        "document": {"name": "行政处罚决定书", "number": "某市监罚〔2026〕12号"},
        "method": "left_at_address",
        "served_at": "2026-11-30",
        "recipient": "某某食品有限公司",
        "place": "某市某区工业园8号",
        "recording_media_id": "m-000123",
        "witness": "社区工作人员吴九",
    },
    "closing_report": {
        "case_summary": "当事人销售过期食品案。",
        "decision_summary": "罚款伍仟元，没收过期酸奶。",
        "execution": "罚款已于2026年12月10日缴清。",
        "reason": "executed",
    },
    "case_catalogue": {
        "archive_number": "2026-食-012",
        "entries": [
            {
                "seq": 1,
                "title": "立案审批表",
                "number": "某市监立〔2026〕12号",
                "date": "2026-11-20",
                "pages": 1,
            },
            {"seq": 2, "title": "现场检查笔录", "pages": 3},
        ],
    },
}
SAMPLE_TEXT = {
    "filing_approval": "涉嫌销售过期食品案",
    "onsite_inspection_record": "超过保质期的酸奶共计12箱",
    "inquiry_record": "是公司采购部进的货",
    "sampling_notice": "原味酸奶",
    "evidence_preservation_notice": "当事人仓库东侧货架",
    "coercive_measure_decision": "冷藏柜",
    "prior_notice": "没收过期酸奶12箱",
    "statement_record": "已主动下架",
    "hearing_notice": "听证室",
    "hearing_record": "请求从轻处罚",
    "investigation_report": "现场检查并询问相关人员",
    "collective_discussion_record": "法规科科长",
    "legal_review_opinion": "执法主体是否合法",
    "penalty_decision": "申请行政复议",
    "onsite_penalty_decision": "占道经营",
    "rectification_order": "建立定期检查制度",
    "service_receipt": "社区工作人员吴九",
    "closing_report": "罚款已于",
    "case_catalogue": "2026-食-012",
}
# A required field of each type and a value of the wrong type for it.
WRONG = {
    "filing_approval": ("source", "rumour"),
    "onsite_inspection_record": ("inspected_at", "yesterday"),
    "inquiry_record": ("qa", "not a list"),
    "sampling_notice": ("sampled_at", 42),
    "evidence_preservation_notice": ("period_days", "seven"),
    "coercive_measure_decision": ("measure", "confiscate"),
    "prior_notice": ("deadline_days", "five"),
    "statement_record": ("held_at", "noon"),
    "hearing_notice": ("public", "perhaps"),
    "hearing_record": ("party", "张三"),
    "investigation_report": ("proposal", "jail"),
    "collective_discussion_record": ("participants", {"name": "x"}),
    "legal_review_opinion": ("outcome", "maybe"),
    "penalty_decision": ("penalties", [{"kind": "flogging"}]),
    "onsite_penalty_decision": ("occurred_at", "2026-13-45"),
    "rectification_order": ("party", ["张三"]),
    "service_receipt": ("method", "pigeon"),
    "closing_report": ("reason", "bored"),
    "case_catalogue": ("entries", [{"seq": "one", "title": "x", "pages": 1}]),
}
NUMBER = "某市监检〔2026〕12号"


def signature_png(size: tuple[int, int] = (600, 200), *, ink: bool = True) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if ink:
        ImageDraw.Draw(image).line(
            [(20, 150), (200, 40), (420, 160), (580, 60)], fill="black", width=6
        )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def render(code: str, fields: dict[str, Any], **kwargs: Any) -> PdfReader:
    doc = RenderInput(
        doc_type=get_type(code),
        unit_name="某市市场监督管理局",
        number=kwargs.pop("number", NUMBER),
        case_number="某市监案〔2026〕12号",
        case_title="某某食品有限公司销售过期食品案",
        fields=fields,
        signatures=kwargs.pop("signatures", []),
        version=2,
        issued_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
        content_sha256_note=kwargs.pop("note", None),
    )
    return PdfReader(io.BytesIO(render_pdf(doc)))


def text_of(reader: PdfReader) -> str:
    return "".join(page.extract_text() for page in reader.pages)


def fields_named(form: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for field in form:
        out.append(field)
        out += fields_named(field.get("fields", []))
    return out


def test_registry_lists_every_type_with_its_title() -> None:
    assert {code: t.title["zh"] for code, t in DOCUMENT_TYPES.items()} == TITLES
    assert set(SAMPLES) == set(TITLES)
    abbrs = [t.abbr for t in DOCUMENT_TYPES.values()]
    assert len(set(abbrs)) == len(abbrs) and all(len(a) == 1 for a in abbrs)
    for doc_type in DOCUMENT_TYPES.values():
        assert doc_type.stage in set(Stage)
        # Only the system-generated catalogue needs no handwritten signature.
        assert doc_type.signatures or doc_type.code == "case_catalogue"
        assert set(doc_type.signatures) <= set(SIGNER_ROLES)
        assert doc_type.recording is None or doc_type.recording in set(Activity)
    with pytest.raises(KeyError):
        get_type("arrest_warrant")


@pytest.mark.parametrize("code", TITLES)
def test_describe_gives_a_form(code: str) -> None:
    form = describe(get_type(code))
    assert form["code"] == code and form["title"]["zh"] == TITLES[code]
    assert {"stage", "abbr", "signatures", "fields"} <= set(form)
    kinds = {
        "datetime",
        "date",
        "string",
        "text",
        "integer",
        "decimal",
        "choice",
        "boolean",
        "list",
        "object",
    }
    for field in fields_named(form["fields"]):
        assert {"name", "label", "type", "required"} <= set(field)
        assert field["label"]["zh"] and field["label"]["en"] and field["type"] in kinds
        if field["type"] == "choice":
            assert field["choices"] and all(c["label"]["zh"] for c in field["choices"])
        if field["type"] == "object":
            assert field["fields"]


def test_describe_shows_nested_lists_and_limits() -> None:
    form = {f["name"]: f for f in describe(get_type("inquiry_record"))["fields"]}
    assert form["qa"]["type"] == "list" and [f["name"] for f in form["qa"]["fields"]] == ["q", "a"]
    assert form["interviewee"]["type"] == "object" and form["started_at"]["type"] == "datetime"
    period = {f["name"]: f for f in describe(get_type("evidence_preservation_notice"))["fields"]}[
        "period_days"
    ]
    assert (period["type"], period["max"]) == ("integer", 7)


@pytest.mark.parametrize("code", TITLES)
def test_sample_loads_and_dumps_as_json(code: str) -> None:
    loaded = validate_fields(code, SAMPLES[code])
    assert validate_fields(code, dump_fields(code, loaded)) == loaded


@pytest.mark.parametrize("code", TITLES)
def test_missing_required_field_is_named(code: str) -> None:
    name, _ = WRONG[code]
    data = copy.deepcopy(SAMPLES[code])
    del data[name]
    with pytest.raises(ValidationError) as info:
        validate_fields(code, data)
    assert name in info.value.messages


@pytest.mark.parametrize("code", TITLES)
def test_wrong_type_is_named(code: str) -> None:
    name, value = WRONG[code]
    with pytest.raises(ValidationError) as info:
        validate_fields(code, {**SAMPLES[code], name: value})
    assert name in info.value.messages


def test_values_are_loaded_as_python_objects() -> None:
    loaded = validate_fields("penalty_decision", SAMPLES["penalty_decision"])
    assert loaded["penalties"][0]["amount"] == Decimal("5000.00")
    assert dump_fields("penalty_decision", loaded)["penalties"][0]["amount"] == "5000.00"
    inquiry = validate_fields("inquiry_record", SAMPLES["inquiry_record"])
    assert inquiry["started_at"] == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def onsite(party: dict[str, Any], amount: str) -> dict[str, Any]:
    return {
        **SAMPLES["onsite_penalty_decision"],
        "party": party,
        "penalties": [{"kind": "fine", "amount": amount}],
    }


def test_onsite_fine_limits() -> None:
    validate_fields("onsite_penalty_decision", onsite(PERSON, "200"))
    validate_fields("onsite_penalty_decision", onsite(COMPANY, "3000"))
    for party, amount in ((PERSON, "500"), (COMPANY, "3001")):
        with pytest.raises(ValidationError) as info:
            validate_fields("onsite_penalty_decision", onsite(party, amount))
        assert "penalties" in info.value.messages


def test_onsite_decision_allows_only_warning_or_fine() -> None:
    data = {**SAMPLES["onsite_penalty_decision"], "penalties": [{"kind": "suspension"}]}
    with pytest.raises(ValidationError) as info:
        validate_fields("onsite_penalty_decision", data)
    assert "kind" in info.value.messages["penalties"][0]


def test_evidence_preservation_period_is_at_most_seven_days() -> None:
    with pytest.raises(ValidationError) as info:
        validate_fields(
            "evidence_preservation_notice",
            {**SAMPLES["evidence_preservation_notice"], "period_days": 8},
        )
    assert "period_days" in info.value.messages


def test_coercive_measure_period_is_at_most_thirty_days() -> None:
    sample = SAMPLES["coercive_measure_decision"]
    for days in (31, 0):
        with pytest.raises(ValidationError) as info:
            validate_fields("coercive_measure_decision", {**sample, "period_days": days})
        assert "period_days" in info.value.messages
    form = {f["name"]: f for f in describe(get_type("coercive_measure_decision"))["fields"]}
    assert (form["period_days"]["max"], form["measure"]["type"]) == (30, "choice")
    assert [c["label"]["zh"] for c in form["measure"]["choices"]] == ["查封", "扣押"]
    assert [f["name"] for f in form["items"]["fields"]] == ["name", "quantity", "place"]
    doc_type = get_type("coercive_measure_decision")
    assert (doc_type.stage, doc_type.abbr, doc_type.signatures) == (
        Stage.EVIDENCE,
        "封",
        ("officer", "party"),
    )


def test_inspection_needs_credentials_shown_and_two_officers() -> None:
    sample = SAMPLES["onsite_inspection_record"]
    with pytest.raises(ValidationError) as info:
        validate_fields(
            "onsite_inspection_record",
            {**sample, "credential_shown": False, "inspectors": OFFICERS[:1]},
        )
    assert {"credential_shown", "inspectors"} <= set(info.value.messages)


def test_left_at_address_service_needs_a_witness_or_recording() -> None:
    data = {**SAMPLES["service_receipt"], "witness": None, "recording_media_id": None}
    with pytest.raises(ValidationError) as info:
        validate_fields("service_receipt", data)
    assert "witness" in info.value.messages


@pytest.mark.parametrize("code", TITLES)
def test_render_pdf_shows_title_number_and_fields(code: str) -> None:
    reader = render(code, validate_fields(code, SAMPLES[code]))
    text = text_of(reader)
    for expected in (TITLES[code], NUMBER, SAMPLE_TEXT[code], "第2版", "2026年11月27日"):
        assert expected in text


def test_render_pdf_from_json_fields_prints_labels_not_codes() -> None:
    text = text_of(render("service_receipt", SAMPLES["service_receipt"], number=None))
    assert "留置送达" in text and "left_at_address" not in text
    assert "（草稿）" in text and "2026年11月30日" in text
    inspection = text_of(render("onsite_inspection_record", SAMPLES["onsite_inspection_record"]))
    assert "2026年11月21日 09:30" in inspection and "是" in inspection


def test_render_pdf_embeds_signatures() -> None:
    signed_at = datetime(2026, 11, 27, 1, 5, tzinfo=UTC)
    signatures = [
        SignatureImage("officer", "王五", signature_png(), signed_at),
        SignatureImage("recipient", "李四", signature_png((300, 300)), signed_at),
    ]
    reader = render(
        "service_receipt", SAMPLES["service_receipt"], signatures=signatures, note="SHA-256: ab12"
    )
    assert any(page.images for page in reader.pages)
    text = text_of(reader)
    assert "执法人员签名" in text and "受送达人签名" in text and "2026年11月27日 09:05" in text
    assert "SHA-256: ab12" in text


def test_long_inquiry_record_flows_over_pages() -> None:
    qa = [
        {"q": f"第{i}个问题：请说明进货渠道。" * 3, "a": f"第{i}个回答。" * 10} for i in range(40)
    ]
    reader = render(
        "inquiry_record", validate_fields("inquiry_record", {**SAMPLES["inquiry_record"], "qa": qa})
    )
    assert len(reader.pages) > 1
    assert "第39个回答" in text_of(reader)


def test_markup_in_values_is_escaped() -> None:
    data = {**SAMPLES["closing_report"], "execution": "<b>已缴清</b> & 结案"}
    assert "<b>已缴清</b> & 结案" in text_of(render("closing_report", data))


def test_signature_check_accepts_a_drawn_signature() -> None:
    render_signature_check(signature_png())


@pytest.mark.parametrize(
    "make",
    [
        lambda: signature_png(ink=False),
        lambda: _encoded(Image.new("RGB", (400, 200), "white"), "PNG"),
        lambda: _encoded(_inked("RGB"), "JPEG"),
        lambda: signature_png((2001, 200)),
        lambda: signature_png((400, 1001)),
        lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        lambda: b"\x00" * (500 * 1024 + 1),
    ],
    ids=["transparent", "white", "jpeg", "too-wide", "too-tall", "corrupt", "too-large"],
)
def test_signature_check_rejects(make: Any) -> None:
    with pytest.raises(ValueError, match="/"):
        render_signature_check(make())


def _inked(mode: str) -> Image.Image:
    image = Image.new(mode, (400, 200), "white")
    ImageDraw.Draw(image).line([(10, 10), (390, 190)], fill="black", width=5)
    return image


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()
