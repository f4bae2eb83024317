"""亮证 verification: the page a citizen's camera opens from the officer's QR code."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from ..api.common import client_addr
from ..extensions import db
from ..models import Credential, utcnow
from ..schemas import PublicCredentialCheckSchema
from ..services import credentials as credential_service
from ..services.credentials import InvalidReason, PublicCheck
from . import bp

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "执法证核验",
        "valid": "有效",
        "invalid": "无效",
        "valid_lead": "此执法证经发证系统核验，真实且当前有效。",
        "valid_note": "请核对出示证件的人与上方姓名、证号一致，"
        "并确认浏览器地址栏中是本机关的官方网址。",
        "invalid_note": "您可以要求执法人员出示实体执法证，"
        "或拨打 12345 政务服务便民热线、向发证机关核实。",
        "reason": "原因：",
        "expired_hint": "二维码生成后 2 分钟内有效，请执法人员刷新后重新出示。",
        "name": "姓名",
        "number": "执法证号",
        "issuing_authority": "发证机关",
        "unit_name": "所在单位",
        "categories": "执法类别",
        "area": "执法区域",
        "validity": "有效期限",
        "period_sep": " 至 ",
        "checked_at": "核验时间",
        "time_zone": "（北京时间）",
        "list_sep": "、",
        "other_lang": "English",
        "other_lang_code": "en",
    },
    "en": {
        "html_lang": "en",
        "title": "Enforcement credential check",
        "valid": "Valid",
        "invalid": "Not valid",
        "valid_lead": "The issuing system confirms this enforcement credential is genuine "
        "and valid right now.",
        "valid_note": "Check that the person showing it matches the name and number above, "
        "and that the address bar shows the authority's official web address.",
        "invalid_note": "You may ask the officer for the physical credential, or check with "
        "the 12345 government service hotline or the issuing authority.",
        "reason": "Reason: ",
        "expired_hint": "A code works for 2 minutes after it is made; "
        "ask the officer to show a fresh one.",
        "name": "Name",
        "number": "Credential number",
        "issuing_authority": "Issuing authority",
        "unit_name": "Unit",
        "categories": "Enforcement categories",
        "area": "Area",
        "validity": "Valid",
        "period_sep": " to ",
        "checked_at": "Checked at",
        "time_zone": " (Beijing time, UTC+8)",
        "list_sep": ", ",
        "other_lang": "中文",
        "other_lang_code": "zh",
    },
}

REASONS: dict[InvalidReason, dict[str, str]] = {
    InvalidReason.EXPIRED_TOKEN: {"zh": "已过期的二维码", "en": "Expired QR code"},
    InvalidReason.SUSPENDED: {"zh": "证件已暂停", "en": "Credential suspended"},
    InvalidReason.REVOKED: {"zh": "证件已注销", "en": "Credential revoked"},
    InvalidReason.OUT_OF_PERIOD: {
        "zh": "证件不在有效期",
        "en": "Outside the credential's period of validity",
    },
    InvalidReason.HOLDER_INACTIVE: {"zh": "证件已失效", "en": "Credential no longer in force"},
    InvalidReason.FORGED: {"zh": "无法识别", "en": "Not recognised"},
    InvalidReason.UNKNOWN: {"zh": "无法识别", "en": "Not recognised"},
}

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


def _lang() -> str:
    return "en" if request.args.get("lang", "").lower().startswith("en") else "zh"


def _check(token: str, channel: str) -> PublicCheck:
    result = credential_service.check_publicly(
        db.session,
        token,
        utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
        client_addr=client_addr(),
        channel=channel,
    )
    db.session.commit()
    return result


def public_facts(credential: Credential) -> dict[str, Any]:
    """Only what the law requires to be shown for 亮证: nothing about the account or person."""
    return {
        "name": credential.user.name,
        "number": credential.number,
        "issuing_authority": credential.issuing_authority,
        "unit_name": credential.user.unit.name,
        "categories": list(credential.categories),
        "area": credential.area,
        "valid_from": credential_service.local_day(credential.valid_from).isoformat(),
        "valid_to": credential_service.local_day(credential.valid_to).isoformat(),
    }


def _local_time(result: PublicCheck) -> str:
    return result.checked_at.astimezone(credential_service.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


@bp.get("/credentials/verify/<token>")
def verify_credential(token: str):
    lang = _lang()
    result = _check(token, "html")
    html = render_template(
        "public/credential_verify.html",
        t=TEXT[lang],
        lang=lang,
        valid=result.valid,
        reason_text=REASONS[result.reason][lang] if result.reason else None,
        expired=result.reason == InvalidReason.EXPIRED_TOKEN,
        facts=public_facts(result.credential) if result.credential else None,
        checked_at=result.checked_at.astimezone(credential_service.SHANGHAI).isoformat(),
        checked_at_local=_local_time(result),
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8", **_HEADERS}


@bp.get("/credentials/verify/<token>.json")
def verify_credential_json(token: str):
    lang = _lang()
    result = _check(token, "json")
    body = PublicCredentialCheckSchema().dump(
        {
            "valid": result.valid,
            "reason": result.reason.value if result.reason else None,
            "reason_text": REASONS[result.reason][lang] if result.reason else None,
            "checked_at": result.checked_at,
            "checked_at_local": _local_time(result),
            "credential": public_facts(result.credential) if result.credential else None,
        }
    )
    return body, 200, _HEADERS
