"""The enforcement document (执法文书) types: one marshmallow schema each, plus the form
description the PWA builds its forms from.

Every schema field carries its labels in ``metadata={"zh": ..., "en": ...}``; `describe`
reads them, so a field added here shows up in the PWA and in the PDF without further work.
Field values travel as JSON: dates and times as ISO 8601 strings, amounts as decimal strings.

    >>> fields = validate_fields("service_receipt", {...})   # raises ValidationError
    >>> describe(get_type("service_receipt"))["fields"][0]["name"]
    'document'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..domain import Activity, Stage

__all__ = [
    "DOCUMENT_TYPES",
    "SIGNER_ROLES",
    "Choice",
    "DocumentType",
    "Text",
    "describe",
    "dump_fields",
    "get_type",
    "validate_fields",
]

SIGNER_ROLES: dict[str, dict[str, str]] = {
    "officer": {"zh": "执法人员", "en": "Law-enforcement officer"},
    "party": {"zh": "当事人", "en": "Party"},
    "leader": {"zh": "负责人", "en": "Responsible leader"},
    "reviewer": {"zh": "审核人", "en": "Legal reviewer"},
    "recipient": {"zh": "受送达人", "en": "Recipient"},
    "approver": {"zh": "审批人", "en": "Approver"},
}

# 《行政处罚法》第五十一条: on-the-spot (simplified procedure) fines.
ONSITE_FINE_LIMITS: dict[str, Decimal] = {"natural": Decimal(200), "legal": Decimal(3000)}
# 《行政处罚法》第五十六条: preserved evidence must be dealt with within seven days.
PRESERVATION_MAX_DAYS = 7
# 《行政强制法》第二十五条: 查封、扣押 for at most 30 days (extendable once, by a further
# decision, by at most 30 days).
COERCIVE_MEASURE_MAX_DAYS = 30


class Text(fields.String):
    """A multi-line text (the PWA shows a text area)."""


class Choice(fields.String):
    """A string limited to ``choices``: value → ``{"zh": ..., "en": ...}`` label."""

    def __init__(self, choices: Mapping[str, Mapping[str, str]], **kwargs: Any) -> None:
        self.choices = {value: dict(label) for value, label in choices.items()}
        super().__init__(validate=validate.OneOf(list(self.choices)), **kwargs)


# --- field helpers: every field gets its labels; optional fields accept null ----------------


def _kw(zh: str, en: str, required: bool) -> dict[str, Any]:
    return {"required": required, "allow_none": not required, "metadata": {"zh": zh, "en": en}}


def _string(zh: str, en: str, *, required: bool = False, max_len: int = 200) -> fields.String:
    return fields.String(
        validate=validate.Length(min=int(required), max=max_len), **_kw(zh, en, required)
    )


def _text(zh: str, en: str, *, required: bool = False) -> Text:
    return Text(validate=validate.Length(min=int(required), max=20000), **_kw(zh, en, required))


def _choice(
    zh: str, en: str, options: Mapping[str, tuple[str, str]], *, required: bool = False
) -> Choice:
    labels = {value: {"zh": z, "en": e} for value, (z, e) in options.items()}
    return Choice(labels, **_kw(zh, en, required))


def _boolean(
    zh: str, en: str, *, required: bool = False, must_be_true: bool = False
) -> fields.Boolean:
    check = (
        validate.Equal(True, error=f"必须为“是” / must be true ({en})") if must_be_true else None
    )
    return fields.Boolean(validate=check, **_kw(zh, en, required))


def _integer(
    zh: str, en: str, *, required: bool = False, low: int | None = None, high: int | None = None
) -> fields.Integer:
    return fields.Integer(strict=False, validate=validate.Range(low, high), **_kw(zh, en, required))


def _amount(zh: str, en: str, *, required: bool = False) -> fields.Decimal:
    return fields.Decimal(
        places=2, as_string=True, validate=validate.Range(min=0), **_kw(zh, en, required)
    )


def _datetime(zh: str, en: str, *, required: bool = False) -> fields.DateTime:
    return fields.DateTime(**_kw(zh, en, required))


def _date(zh: str, en: str, *, required: bool = False) -> fields.Date:
    return fields.Date(**_kw(zh, en, required))


def _object(schema: type[Schema], zh: str, en: str, *, required: bool = False) -> fields.Nested:
    return fields.Nested(schema, **_kw(zh, en, required))


def _list(
    schema: type[Schema], zh: str, en: str, *, required: bool = False, min_items: int = 1
) -> fields.List:
    return fields.List(
        fields.Nested(schema),
        validate=validate.Length(min=min_items if required else 0),
        **_kw(zh, en, required),
    )


# --- shared blocks -------------------------------------------------------------------------


class PartySchema(Schema):
    """当事人: a natural person or a legal person / other organisation."""

    type = _choice(
        "当事人类型",
        "Party type",
        {
            "natural": ("自然人", "Natural person"),
            "legal": ("法人或其他组织", "Legal person or other organisation"),
        },
    )
    name = _string("姓名/名称", "Name", required=True)
    id_type = _string("证件类型", "ID type")
    id_number = _string("证件号码/统一社会信用代码", "ID number / unified social credit code")
    address = _string("住址/住所", "Address", max_len=500)
    phone = _string("联系电话", "Phone", max_len=50)
    legal_representative = _string("法定代表人(负责人)", "Legal representative")


class OfficerSchema(Schema):
    name = _string("姓名", "Name", required=True)
    badge_number = _string("执法证号", "Law-enforcement credential number", max_len=50)


class ParticipantSchema(Schema):
    name = _string("姓名", "Name", required=True)
    position = _string("职务", "Position")


class QuestionAnswerSchema(Schema):
    q = _text("问", "Question", required=True)
    a = _text("答", "Answer", required=True)


class ItemSchema(Schema):
    name = _string("物品名称", "Item", required=True)
    specification = _string("规格型号", "Specification")
    quantity = _string("数量", "Quantity", max_len=50)
    note = _string("备注", "Note", max_len=500)


class SampleSchema(Schema):
    name = _string("样品名称", "Sample", required=True)
    specification = _string("规格型号", "Specification")
    batch_number = _string("生产批号", "Batch number")
    quantity = _string("抽样数量", "Quantity sampled", required=True, max_len=50)
    base_quantity = _string("抽样基数", "Lot size", max_len=50)


PENALTY_KINDS: dict[str, tuple[str, str]] = {
    "warning": ("警告", "Warning"),
    "fine": ("罚款", "Fine"),
    "confiscation": ("没收违法所得、没收非法财物", "Confiscation"),
    "suspension": ("责令停产停业", "Suspension of production or business"),
    "license_revocation": ("吊销许可证件", "License revocation"),
    "license_suspension": ("暂扣许可证件", "License suspension"),
    "other": ("其他", "Other"),
}


class PenaltySchema(Schema):
    kind = _choice("处罚种类", "Kind", PENALTY_KINDS, required=True)
    amount = _amount("金额(元)", "Amount (yuan)")
    description = _text("内容", "Description")

    @validates_schema
    def _fine_has_amount(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("kind") == "fine" and not data.get("amount"):
            raise ValidationError("罚款须填写金额 / a fine needs an amount", field_name="amount")


class OnsitePenaltySchema(PenaltySchema):
    kind = _choice(
        "处罚种类", "Kind", {k: PENALTY_KINDS[k] for k in ("warning", "fine")}, required=True
    )


class RightsSchema(Schema):
    statement = _boolean("陈述权", "Right to make a statement", required=True)
    defence = _boolean("申辩权", "Right of defence", required=True)
    hearing = _boolean("要求听证权", "Right to request a hearing", required=True)


class ChecklistItemSchema(Schema):
    item = _string("审核事项", "Item", required=True, max_len=500)
    passed = _boolean("是否符合", "Passed", required=True)
    note = _text("说明", "Note")


class DocumentRefSchema(Schema):
    name = _string("文书名称", "Document", required=True)
    number = _string("文书文号", "Document number", max_len=100)


class CatalogueEntrySchema(Schema):
    """One entry of the 案卷目录: an issued document, or an audio-visual record (音像记录),
    which has no pages and is identified in the note by its id and SHA-256."""

    seq = _integer("序号", "No.", required=True, low=1)
    title = _string("文件名称", "Title", required=True, max_len=500)
    number = _string("文号", "Number", max_len=100)
    date = _date("日期", "Date")
    pages = _integer("页数", "Pages", low=1)
    note = _string("备注", "Note", max_len=300)


# --- the documents, in the order of the procedure -------------------------------------------


class FilingApprovalSchema(Schema):
    cause = _string("案由", "Cause of action", required=True, max_len=500)
    source = _choice(
        "案件来源",
        "Source",
        {
            "inspection": ("监督检查", "Supervisory inspection"),
            "complaint": ("投诉举报", "Complaint or report"),
            "referral": ("移送", "Referral"),
            "assigned": ("上级交办", "Assigned by a superior"),
            "other": ("其他", "Other"),
        },
        required=True,
    )
    received_on = _date("线索受理日期", "Lead received on")
    party = _object(PartySchema, "当事人", "Party", required=True)
    summary = _text("简要案情", "Summary", required=True)
    officer_opinion = _text("承办人意见", "Case officer's opinion", required=True)
    approver_opinion = _text("审批意见", "Approver's opinion")


class OnsiteInspectionRecordSchema(Schema):
    inspected_at = _datetime("检查时间", "Inspected at", required=True)
    ended_at = _datetime("结束时间", "Ended at")
    place = _string("检查地点", "Place", required=True, max_len=500)
    party = _object(PartySchema, "被检查人", "Inspected party", required=True)
    # 《行政处罚法》第四十二条: no fewer than two officers.
    inspectors = _list(OfficerSchema, "检查人员", "Inspectors", required=True, min_items=2)
    credential_shown = _boolean(
        "已出示执法证件", "Credentials shown", required=True, must_be_true=True
    )
    findings = _text("检查情况", "Findings", required=True)
    party_statement = _text("当事人意见", "Party's statement")
    witness = _string("见证人", "Witness")


class InquiryRecordSchema(Schema):
    started_at = _datetime("询问开始时间", "Started at", required=True)
    ended_at = _datetime("询问结束时间", "Ended at", required=True)
    place = _string("询问地点", "Place", required=True, max_len=500)
    interviewer = _string("询问人", "Interviewer", required=True)
    recorder = _string("记录人", "Recorder", required=True)
    interviewee = _object(PartySchema, "被询问人", "Interviewee", required=True)
    relation = _string("与本案关系", "Relation to the case")
    credential_shown = _boolean(
        "已出示执法证件", "Credentials shown", required=True, must_be_true=True
    )
    qa = _list(QuestionAnswerSchema, "询问内容", "Questions and answers", required=True)

    @validates_schema
    def _ends_after_start(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("started_at"), data.get("ended_at")
        if start and end and (start.tzinfo is None) == (end.tzinfo is None) and end < start:
            raise ValidationError(
                "结束时间早于开始时间 / ends before it starts", field_name="ended_at"
            )


class SamplingNoticeSchema(Schema):
    party = _object(PartySchema, "被抽样人", "Sampled party", required=True)
    sampled_at = _datetime("抽样时间", "Sampled at", required=True)
    place = _string("抽样地点", "Place", required=True, max_len=500)
    legal_basis = _text("抽样依据", "Legal basis", required=True)
    samples = _list(SampleSchema, "抽样物品", "Samples", required=True)
    sample_handling = _text("样品处理方式", "Handling of samples")


class EvidencePreservationNoticeSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    reason = _text("理由", "Reason", required=True)
    legal_basis = _text("依据", "Legal basis", required=True)
    items = _list(ItemSchema, "先行登记保存物品", "Items preserved", required=True)
    storage_place = _string("保存地点", "Storage place", required=True, max_len=500)
    storage_method = _choice(
        "保存方式",
        "Storage method",
        {"onsite": ("就地保存", "Kept on site"), "offsite": ("异地保存", "Kept elsewhere")},
    )
    starts_on = _date("保存起始日期", "Preserved from", required=True)
    period_days = _integer(
        "保存期限(日)", "Period (days)", required=True, low=1, high=PRESERVATION_MAX_DAYS
    )


class SealedItemSchema(Schema):
    name = _string("场所、设施或财物名称", "Premises, facility or property", required=True)
    quantity = _string("数量", "Quantity", max_len=50)
    place = _string("所在地点", "Location", max_len=500)


class CoerciveMeasureDecisionSchema(Schema):
    """查封(扣押)决定书: what 《行政强制法》第二十四条 requires the decision to state."""

    party = _object(PartySchema, "当事人", "Party", required=True)
    measure = _choice(
        "强制措施",
        "Measure",
        {"seal": ("查封", "Seal up"), "seize": ("扣押", "Seize")},
        required=True,
    )
    reason = _text("理由", "Reason", required=True)
    legal_basis = _text("依据", "Legal basis", required=True)
    items = _list(SealedItemSchema, "查封(扣押)的场所、设施或财物", "Items", required=True)
    period_days = _integer(
        "期限(日)", "Period (days)", required=True, low=1, high=COERCIVE_MEASURE_MAX_DAYS
    )
    place = _string("实施地点", "Place", required=True, max_len=500)
    remedy = _text("救济途径和期限", "Remedies", required=True)


class PriorNoticeSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    facts = _text("违法事实", "Facts", required=True)
    evidence = _text("证据", "Evidence", required=True)
    legal_basis = _text("处罚依据", "Legal basis", required=True)
    proposed_penalties = _list(
        PenaltySchema, "拟作出的行政处罚", "Proposed penalties", required=True
    )
    rights = _object(RightsSchema, "当事人依法享有的权利", "Rights", required=True)
    deadline_days = _integer(
        "提出陈述申辩或听证的期限(日)", "Deadline (days)", required=True, low=1, high=30
    )
    contact = _string("联系人及电话", "Contact")


class StatementRecordSchema(Schema):
    held_at = _datetime("时间", "Held at", required=True)
    place = _string("地点", "Place", required=True, max_len=500)
    officers = _string("执法人员", "Officers", required=True)
    recorder = _string("记录人", "Recorder", required=True)
    party = _object(PartySchema, "陈述申辩人", "Party", required=True)
    statement = _text("陈述申辩内容", "Statement and defence", required=True)
    new_evidence = _text("提交的新证据", "New evidence submitted")


class HearingNoticeSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    hearing_at = _datetime("听证时间", "Hearing at", required=True)
    place = _string("听证地点", "Place", required=True, max_len=500)
    host = _string("听证主持人", "Presiding officer", required=True)
    public = _boolean("公开举行", "Held in public", required=True)
    notes = _text("注意事项", "Notes")
    contact = _string("联系人及电话", "Contact")


class HearingRecordSchema(Schema):
    started_at = _datetime("听证开始时间", "Started at", required=True)
    ended_at = _datetime("听证结束时间", "Ended at")
    place = _string("听证地点", "Place", required=True, max_len=500)
    host = _string("听证主持人", "Presiding officer", required=True)
    recorder = _string("记录人", "Recorder", required=True)
    investigators = _string("案件调查人员", "Investigators", required=True)
    party = _object(PartySchema, "当事人", "Party", required=True)
    agents = _string("委托代理人", "Authorised agents")
    public = _boolean("公开举行", "Held in public", required=True)
    investigators_case = _text(
        "调查人员提出的违法事实、证据和处罚建议", "Investigators' case", required=True
    )
    party_defence = _text("当事人陈述申辩", "Party's statement and defence", required=True)
    cross_examination = _text("质证和辩论", "Cross-examination and debate")
    final_statement = _text("当事人最后陈述", "Party's final statement")


class InvestigationReportSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    cause = _string("案由", "Cause of action", required=True, max_len=500)
    investigation = _text("调查经过", "Course of the investigation", required=True)
    facts = _text("违法事实", "Facts", required=True)
    evidence = _text("证据", "Evidence", required=True)
    legal_basis = _text("法律依据", "Legal basis", required=True)
    circumstances = _text("从轻、减轻或从重情节", "Mitigating or aggravating circumstances")
    proposal = _choice(
        "处理意见",
        "Proposal",
        {
            "penalty": ("给予行政处罚", "Impose a penalty"),
            "no_penalty": ("不予行政处罚", "No penalty"),
            "withdraw": ("撤销立案", "Withdraw the case"),
            "transfer": ("移送", "Transfer"),
        },
        required=True,
    )
    proposed_penalties = _list(PenaltySchema, "建议处罚", "Proposed penalties")
    officers = _string("承办人", "Case officers", required=True)


class LegalReviewOpinionSchema(Schema):
    checklist = _list(ChecklistItemSchema, "审核事项", "Checklist", required=True)
    opinion = _text("审核意见", "Opinion", required=True)
    outcome = _choice(
        "审核结论",
        "Outcome",
        {
            "agree": ("同意", "Agree"),
            "returned": ("退回补充调查", "Returned for further investigation"),
            "transfer": ("建议移送", "Transfer"),
        },
        required=True,
    )
    reviewer = _string("审核人", "Reviewer", required=True)
    reviewed_on = _date("审核日期", "Reviewed on")


class CollectiveDiscussionRecordSchema(Schema):
    held_at = _datetime("讨论时间", "Held at", required=True)
    place = _string("地点", "Place", required=True, max_len=500)
    host = _string("主持人", "Chair", required=True)
    recorder = _string("记录人", "Recorder", required=True)
    participants = _list(ParticipantSchema, "参加人员", "Participants", required=True)
    case_summary = _text("案情介绍", "Case summary")
    discussion = _text("讨论记录", "Discussion", required=True)
    conclusion = _text("讨论决定", "Conclusion", required=True)


class PenaltyDecisionSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    facts = _text("违法事实", "Facts", required=True)
    evidence = _text("证据", "Evidence", required=True)
    legal_basis = _text("处罚依据", "Legal basis", required=True)
    penalties = _list(PenaltySchema, "行政处罚", "Penalties", required=True)
    # Why this penalty within the discretion standard (裁量基准): part of what the legal
    # review agrees to, so the decision states it as reviewed.
    discretion = _text("裁量基准适用情况", "Discretion applied")
    payment = _text("履行方式和期限", "Payment instructions")
    remedy = _text("救济途径和期限", "Remedies", required=True)

    @validates_schema
    def _fines_need_payment(self, data: dict[str, Any], **_: Any) -> None:
        if any(p.get("kind") == "fine" for p in data.get("penalties") or []) and not data.get(
            "payment"
        ):
            raise ValidationError(
                "有罚款的须写明缴款方式 / fines need payment instructions", field_name="payment"
            )


class OnsitePenaltyDecisionSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    occurred_at = _datetime("违法行为时间", "Offence at", required=True)
    place = _string("违法行为地点", "Place", required=True, max_len=500)
    facts = _text("违法事实", "Facts", required=True)
    legal_basis = _text("处罚依据", "Legal basis", required=True)
    penalties = _list(OnsitePenaltySchema, "行政处罚", "Penalties", required=True)
    payment = _text("履行方式和期限", "Payment instructions")
    remedy = _text("救济途径和期限", "Remedies", required=True)
    officers = _list(OfficerSchema, "执法人员", "Officers", required=True)

    @validates_schema
    def _within_simplified_limits(self, data: dict[str, Any], **_: Any) -> None:
        fines = [p for p in data.get("penalties") or [] if p.get("kind") == "fine"]
        if not fines:
            return
        party_type = (data.get("party") or {}).get("type")
        if party_type not in ONSITE_FINE_LIMITS:
            raise ValidationError(
                "当场罚款须注明当事人类型 / an on-the-spot fine needs the party type",
                field_name="party",
            )
        limit = ONSITE_FINE_LIMITS[party_type]
        total = sum((p.get("amount") or Decimal(0) for p in fines), Decimal(0))
        if total > limit:
            who = "自然人" if party_type == "natural" else "法人或其他组织"
            raise ValidationError(
                f"当场处罚对{who}罚款不得超过{limit}元（《行政处罚法》第五十一条）"
                f" / an on-the-spot fine may not exceed {limit} yuan for this party",
                field_name="penalties",
            )


class RectificationOrderSchema(Schema):
    party = _object(PartySchema, "当事人", "Party", required=True)
    violation = _text("违法行为", "Violation", required=True)
    legal_basis = _text("依据", "Legal basis", required=True)
    requirements = _text("改正要求", "Requirements", required=True)
    immediate = _boolean("责令立即改正", "Immediately")
    deadline = _date("改正期限", "Deadline")

    @validates_schema
    def _immediate_or_deadline(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("immediate") and not data.get("deadline"):
            raise ValidationError(
                "须立即改正或给出期限 / immediately or by a deadline", field_name="deadline"
            )


class ServiceReceiptSchema(Schema):
    document = _object(DocumentRefSchema, "送达文书", "Document served", required=True)
    method = _choice(
        "送达方式",
        "Method",
        {
            "direct": ("直接送达", "In person"),
            "left_at_address": ("留置送达", "Left at the address"),
            "mail": ("邮寄送达", "By post"),
            "electronic": ("电子送达", "Electronically"),
            "announcement": ("公告送达", "By announcement"),
        },
        required=True,
    )
    served_at = _date("送达日期", "Served on", required=True)
    recipient = _string("受送达人", "Recipient", required=True)
    place = _string("送达地点", "Place", max_len=500)
    recording_media_id = _string("送达录像编号", "Recording (media id)", max_len=100)
    witness = _string("见证人", "Witness")
    note = _text("备注", "Note")

    @validates_schema
    def _left_at_address_is_witnessed(self, data: dict[str, Any], **_: Any) -> None:
        if (
            data.get("method") == "left_at_address"
            and not data.get("witness")
            and not data.get("recording_media_id")
        ):
            raise ValidationError(
                "留置送达须有见证人或录像 / leaving at the address needs a witness or a recording",
                field_name="witness",
            )


class ClosingReportSchema(Schema):
    case_summary = _text("案件情况", "Case summary", required=True)
    decision_summary = _text("处理决定", "Decision", required=True)
    execution = _text("执行情况", "Execution", required=True)
    reason = _choice(
        "结案理由",
        "Reason for closing",
        {
            "executed": ("执行完毕", "Executed"),
            "no_penalty": ("不予处罚", "No penalty"),
            "terminated": ("终止调查", "Investigation terminated"),
            "transferred": ("已移送", "Transferred"),
            "other": ("其他", "Other"),
        },
        required=True,
    )
    officer_opinion = _text("承办人意见", "Case officer's opinion")
    approver_opinion = _text("审批意见", "Approver's opinion")


class CaseCatalogueSchema(Schema):
    archive_number = _string("档号", "Archive number", max_len=100)
    retention = _string("保管期限", "Retention period", max_len=50)
    entries = _list(CatalogueEntrySchema, "卷内文件", "Entries", required=True)


# --- the registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentType:
    """One kind of enforcement document.

    ``abbr`` goes into the document number (``某市监检〔2026〕12号``); ``signatures`` are the
    roles that must sign before it can be issued; ``recording`` is the activity whose
    audio-visual recording the rules may ask for.
    """

    code: str
    title: dict[str, str]
    stage: Stage
    abbr: str
    signatures: tuple[str, ...]
    schema: type[Schema]
    recording: str | None = None

    @property
    def for_the_party(self) -> bool:
        """Whether the party may be handed a copy; internal papers (approvals, reports,
        the legal review's and the collective discussion's records) stay in the file."""
        return self.code not in INTERNAL_TYPES


# Documents the unit writes for itself, never handed to the party through a link.
INTERNAL_TYPES = frozenset(
    {
        "filing_approval",
        "investigation_report",
        "collective_discussion_record",
        "legal_review_opinion",
        "closing_report",
        "case_catalogue",
    }
)


def _types(*types: DocumentType) -> dict[str, DocumentType]:
    return {t.code: t for t in types}


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


DOCUMENT_TYPES: dict[str, DocumentType] = _types(
    DocumentType(
        "filing_approval",
        _t("立案审批表", "Case filing approval form"),
        Stage.FILING,
        "立",
        ("officer", "approver"),
        FilingApprovalSchema,
    ),
    DocumentType(
        "onsite_inspection_record",
        _t("现场检查(勘验)笔录", "On-site inspection record"),
        Stage.INVESTIGATION,
        "检",
        ("officer", "party"),
        OnsiteInspectionRecordSchema,
        Activity.ONSITE_INSPECTION,
    ),
    DocumentType(
        "inquiry_record",
        _t("询问笔录", "Inquiry record"),
        Stage.INVESTIGATION,
        "询",
        ("officer", "party"),
        InquiryRecordSchema,
        Activity.EVIDENCE_COLLECTION,
    ),
    DocumentType(
        "sampling_notice",
        _t("抽样取证通知书", "Sampling notice"),
        Stage.EVIDENCE,
        "抽",
        ("officer", "party"),
        SamplingNoticeSchema,
        Activity.EVIDENCE_COLLECTION,
    ),
    DocumentType(
        "evidence_preservation_notice",
        _t("先行登记保存证据通知书", "Notice of registering and preserving evidence"),
        Stage.EVIDENCE,
        "保",
        ("officer", "party"),
        EvidencePreservationNoticeSchema,
        Activity.EVIDENCE_PRESERVATION,
    ),
    DocumentType(
        "coercive_measure_decision",
        _t("查封(扣押)决定书", "Decision to seal up or seize"),
        Stage.EVIDENCE,
        "封",
        ("officer", "party"),
        CoerciveMeasureDecisionSchema,
        Activity.EVIDENCE_PRESERVATION,
    ),
    DocumentType(
        "investigation_report",
        _t("调查终结报告", "Investigation report"),
        Stage.REVIEW,
        "终",
        ("officer", "leader"),
        InvestigationReportSchema,
    ),
    DocumentType(
        "legal_review_opinion",
        _t("法制审核意见书", "Legal review opinion"),
        Stage.REVIEW,
        "审",
        ("reviewer",),
        LegalReviewOpinionSchema,
    ),
    DocumentType(
        "prior_notice",
        _t("行政处罚事先告知书", "Prior notice of administrative penalty"),
        Stage.DECISION,
        "告",
        ("officer",),
        PriorNoticeSchema,
    ),
    DocumentType(
        "statement_record",
        _t("陈述申辩笔录", "Record of statement and defence"),
        Stage.DECISION,
        "申",
        ("officer", "party"),
        StatementRecordSchema,
    ),
    DocumentType(
        "hearing_notice",
        _t("听证告知书", "Hearing notice"),
        Stage.DECISION,
        "听",
        ("officer",),
        HearingNoticeSchema,
    ),
    DocumentType(
        "hearing_record",
        _t("听证笔录", "Hearing record"),
        Stage.DECISION,
        "证",
        ("officer", "party"),
        HearingRecordSchema,
        Activity.HEARING,
    ),
    DocumentType(
        "collective_discussion_record",
        _t("案件集体讨论笔录", "Record of collective discussion"),
        Stage.DECISION,
        "讨",
        ("leader", "officer"),
        CollectiveDiscussionRecordSchema,
    ),
    DocumentType(
        "penalty_decision",
        _t("行政处罚决定书", "Administrative penalty decision"),
        Stage.DECISION,
        "罚",
        ("leader",),
        PenaltyDecisionSchema,
    ),
    DocumentType(
        "onsite_penalty_decision",
        _t("当场行政处罚决定书", "On-the-spot administrative penalty decision"),
        Stage.DECISION,
        "当",
        ("officer", "party"),
        OnsitePenaltyDecisionSchema,
        Activity.ONSITE_INSPECTION,
    ),
    DocumentType(
        "service_receipt",
        _t("送达回证", "Proof of service"),
        Stage.SERVICE,
        "送",
        ("officer", "recipient"),
        ServiceReceiptSchema,
        Activity.SERVICE,
    ),
    DocumentType(
        "rectification_order",
        _t("责令(限期)改正通知书", "Order to rectify (within a time limit)"),
        Stage.EXECUTION,
        "改",
        ("officer", "party"),
        RectificationOrderSchema,
    ),
    DocumentType(
        "closing_report",
        _t("结案报告", "Case closing report"),
        Stage.ARCHIVE,
        "结",
        ("officer", "leader"),
        ClosingReportSchema,
    ),
    DocumentType(
        "case_catalogue",
        _t("案卷目录", "Case file catalogue"),
        Stage.ARCHIVE,
        "录",
        (),  # generated by the system when the case is archived
        CaseCatalogueSchema,
    ),
)


def get_type(code: str) -> DocumentType:
    """The document type ``code``; ``KeyError`` if there is none."""
    try:
        return DOCUMENT_TYPES[code]
    except KeyError:
        raise KeyError(f"unknown document type: {code}") from None


def validate_fields(code: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Load ``data`` (JSON values) with the type's schema: dates, times and amounts become
    Python objects. Raises `marshmallow.ValidationError` (messages keyed by field name)."""
    return get_type(code).schema().load(data)


def dump_fields(code: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of loaded fields: ISO 8601 dates and times, amounts as strings."""
    return get_type(code).schema().dump(data)


def describe(doc_type: DocumentType) -> dict[str, Any]:
    """The type with its form fields, as listed by ``GET /api/v1/document-types``."""
    return {
        "code": doc_type.code,
        "title": dict(doc_type.title),
        "stage": str(doc_type.stage),
        "abbr": doc_type.abbr,
        "signatures": list(doc_type.signatures),
        "recording": str(doc_type.recording) if doc_type.recording else None,
        "for_the_party": doc_type.for_the_party,
        "needed_to_leave": needed_to_leave(doc_type.code),
        "fields": describe_fields(doc_type.schema().fields.items()),
    }


def needed_to_leave(code: str) -> list[str]:
    """The stages a case cannot leave without this document (``investigation_report`` →
    ``["evidence"]``): the documents screen offers it there, where it is needed, even when
    the document itself belongs to the next stage."""
    from ..workflow.rules import TRANSITIONS

    return sorted(
        {
            t.source
            for t in TRANSITIONS
            for req in t.needs
            if req["kind"] == "document" and code in req.get("types", req.get("any_of", []))
        }
    )


def describe_fields(items: Iterable[tuple[str, fields.Field]]) -> list[dict[str, Any]]:
    """Form descriptions of ``(name, field)`` pairs, in order."""
    return [_describe_field(name, field) for name, field in items]


def field_kind(field: fields.Field) -> str:
    """The form type of a field: datetime|date|string|text|integer|decimal|choice|boolean|
    list|object."""
    # Order matters: Date subclasses DateTime, Text and Choice subclass String.
    for cls, kind in _KINDS:
        if isinstance(field, cls):
            return kind
    raise TypeError(f"no form type for {type(field).__name__}")


_KINDS: tuple[tuple[type[fields.Field], str], ...] = (
    (Choice, "choice"),
    (Text, "text"),
    (fields.String, "string"),
    (fields.Date, "date"),
    (fields.DateTime, "datetime"),
    (fields.Boolean, "boolean"),
    (fields.Integer, "integer"),
    (fields.Decimal, "decimal"),
    (fields.Nested, "object"),
    (fields.List, "list"),
)


def _describe_field(name: str, field: fields.Field) -> dict[str, Any]:
    kind = field_kind(field)
    entry: dict[str, Any] = {
        "name": name,
        "label": {"zh": field.metadata["zh"], "en": field.metadata["en"]},
        "type": kind,
        "required": field.required,
    }
    if isinstance(field, Choice):
        entry["choices"] = [
            {"value": value, "label": dict(label)} for value, label in field.choices.items()
        ]
    for check in field.validators:
        if isinstance(check, validate.Range):
            entry.update(
                {k: v for k, v in (("min", check.min), ("max", check.max)) if v is not None}
            )
        elif isinstance(check, validate.Length) and kind == "list" and check.min:
            entry["min_items"] = check.min
    if isinstance(field, fields.Nested):
        entry["fields"] = describe_fields(field.schema.fields.items())
    elif isinstance(field, fields.List):
        inner = field.inner
        if isinstance(inner, fields.Nested):
            entry["fields"] = describe_fields(inner.schema.fields.items())
        else:
            entry["item_type"] = field_kind(inner)
    return entry
