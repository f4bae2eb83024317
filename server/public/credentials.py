"""亮证 verification: the page a citizen's camera opens from the officer's QR code.

``/public/verify/<token>`` (what new QR codes carry: shorter, so a less dense code) and
``/public/credentials/verify/<token>`` are the same check. The officer's photo is served
only through a code that verifies at that moment, and is never cached.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy.orm import object_session

from .. import clock
from ..api.common import client_addr
from ..api.credentials import device_cert_ttl, offline_code_window, photo_response
from ..extensions import db
from ..models import Credential
from ..schemas import PublicCredentialCheckSchema
from ..services import credentials as credential_service
from ..services.credentials import InvalidReason, PublicCheck
from ..services.units import display_name
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
        "expired_hint": "二维码生成后 {ttl} 秒内有效，请执法人员刷新后重新出示。",
        "photo_alt": "执法人员照片",
        "offline_mode": "出示方式",
        "offline_mode_value": "离线出示（执法人员手机未联网时生成）",
        "offline_note": "此二维码由执法人员的手机在离线状态下生成，与本站时间相差 {window} 秒以内"
        "有效；证件状态已按发证系统的当前记录核验。",
        "offline_expired_hint": "离线码只在生成前后 {window} 秒内有效，"
        "请执法人员重新出示；手机时间不准也会出现此结果。",
        "cert_expired_hint": "执法人员的手机超过 {hours} 小时未联网，需联网打开一次亮证页面。",
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
        "expired_hint": "A code works for {ttl} seconds after it is made; "
        "ask the officer to show a fresh one.",
        "photo_alt": "Photo of the officer",
        "offline_mode": "Shown",
        "offline_mode_value": "offline (made by the officer's phone without network)",
        "offline_note": "The officer's phone made this code without network; it is good within "
        "{window} seconds of this site's clock. The credential's status was checked against "
        "the issuing system's current record.",
        "offline_expired_hint": "An offline code is good only within {window} seconds of when "
        "it was made; ask the officer to show a fresh one. A wrong clock on the phone also "
        "gives this result.",
        "cert_expired_hint": "The officer's phone has been offline for more than {hours} hours; "
        "it must open the credential screen once while online.",
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
    InvalidReason.EXPIRED_CERT: {"zh": "离线凭证已过期", "en": "Offline certificate expired"},
    InvalidReason.DEVICE_REVOKED: {
        "zh": "出示设备已停用",
        "en": "The showing device has been revoked",
    },
    InvalidReason.FORGED: {"zh": "无法识别", "en": "Not recognised"},
    InvalidReason.UNKNOWN: {"zh": "无法识别", "en": "Not recognised"},
}

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}
_PHOTO_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _lang() -> str:
    return "en" if request.args.get("lang", "").lower().startswith("en") else "zh"


def _check(token: str, channel: str) -> PublicCheck:
    result = credential_service.check_publicly(
        db.session,
        token,
        clock.now(),
        secret_key=current_app.config["SECRET_KEY"],
        client_addr=client_addr(),
        channel=channel,
    )
    db.session.commit()
    return result


def _check_offline(code: str, channel: str) -> PublicCheck:
    result = credential_service.check_offline_publicly(
        db.session,
        code,
        clock.now(),
        secret_key=current_app.config["SECRET_KEY"],
        window=offline_code_window(),
        client_addr=client_addr(),
        channel=channel,
    )
    db.session.commit()
    return result


def public_facts(credential: Credential, photo_url: str | None = None) -> dict[str, Any]:
    """Only what the law requires to be shown for 亮证: nothing about the account or person."""
    return {
        "name": credential.user.name,
        "number": credential.number,
        "issuing_authority": credential.issuing_authority,
        "unit_name": display_name(credential.user.unit, object_session(credential)),
        "categories": list(credential.categories),
        "area": credential.area,
        "valid_from": clock.local_date(credential.valid_from).isoformat(),
        "valid_to": clock.local_date(credential.valid_to).isoformat(),
        "photo_url": photo_url if credential.photo_sha256 else None,
    }


def _local_time(result: PublicCheck) -> str:
    return result.checked_at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M:%S")


def _page(result: PublicCheck, photo_url: str):
    lang = _lang()
    text = dict(TEXT[lang])
    text["expired_hint"] = text["expired_hint"].format(
        ttl=int(credential_service.DISPLAY_TOKEN_TTL.total_seconds())
    )
    hint = None
    if result.offline:
        window = int(offline_code_window().total_seconds())
        hours = int(device_cert_ttl().total_seconds() // 3600)
        for key in ("offline_note", "offline_expired_hint", "cert_expired_hint"):
            text[key] = text[key].format(window=window, hours=hours)
        if result.reason == InvalidReason.EXPIRED_TOKEN:
            hint = text["offline_expired_hint"]
        elif result.reason == InvalidReason.EXPIRED_CERT:
            hint = text["cert_expired_hint"]
    elif result.reason == InvalidReason.EXPIRED_TOKEN:
        hint = text["expired_hint"]
    html = render_template(
        "public/credential_verify.html",
        t=text,
        lang=lang,
        valid=result.valid,
        offline=result.offline,
        reason_text=REASONS[result.reason][lang] if result.reason else None,
        hint=hint,
        facts=public_facts(result.credential, photo_url) if result.credential else None,
        checked_at=result.checked_at.astimezone(clock.ZONE).isoformat(),
        checked_at_local=_local_time(result),
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8", **_HEADERS}


def _json(result: PublicCheck, photo_url: str):
    lang = _lang()
    body = PublicCredentialCheckSchema().dump(
        {
            "valid": result.valid,
            "reason": result.reason.value if result.reason else None,
            "reason_text": REASONS[result.reason][lang] if result.reason else None,
            "checked_at": result.checked_at,
            "checked_at_local": _local_time(result),
            "credential": public_facts(result.credential, photo_url) if result.credential else None,
            # only on offline checks: the online answer's shape predates them
            **({"offline": True} if result.offline else {}),
        }
    )
    return body, 200, _HEADERS


def _photo(credential: Credential | None):
    """The photo while the code verifies; 404 alike for a bad code and for no photo."""
    if credential is None or not credential.photo_sha256:
        abort(404)
    response = photo_response(credential)
    response.headers.update(_PHOTO_HEADERS)
    return response


@bp.get("/verify/<token>", endpoint="verify")
@bp.get("/credentials/verify/<token>")
def verify_credential(token: str):
    short = request.endpoint == "public.verify"
    photo = url_for(
        "public.verify_photo" if short else "public.verify_credential_photo", token=token
    )
    return _page(_check(token, "html"), photo)


@bp.get("/verify/<token>.json", endpoint="verify_json")
@bp.get("/credentials/verify/<token>.json")
def verify_credential_json(token: str):
    short = request.endpoint == "public.verify_json"
    photo = url_for(
        "public.verify_photo" if short else "public.verify_credential_photo",
        token=token,
        _external=True,
    )
    return _json(_check(token, "json"), photo)


@bp.get("/verify/<token>/photo", endpoint="verify_photo")
@bp.get("/credentials/verify/<token>/photo")
def verify_credential_photo(token: str):
    """The officer's photo, only while ``token`` verifies (as the page it appears on)."""
    credential = credential_service.valid_by_token(
        db.session, token, clock.now(), secret_key=current_app.config["SECRET_KEY"]
    )
    return _photo(credential)


@bp.get("/credentials/offline/<code>")
def verify_offline_credential(code: str):
    """A code the officer's phone made without network (see services.credentials)."""
    photo = url_for("public.verify_offline_credential_photo", code=code)
    return _page(_check_offline(code, "html"), photo)


@bp.get("/credentials/offline/<code>.json")
def verify_offline_credential_json(code: str):
    photo = url_for("public.verify_offline_credential_photo", code=code, _external=True)
    return _json(_check_offline(code, "json"), photo)


@bp.get("/credentials/offline/<code>/photo")
def verify_offline_credential_photo(code: str):
    credential = credential_service.valid_by_offline_code(
        db.session,
        code,
        clock.now(),
        secret_key=current_app.config["SECRET_KEY"],
        window=offline_code_window(),
    )
    return _photo(credential)
