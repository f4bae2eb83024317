"""行政执法公示 pages: what anyone may read without logging in, server-rendered and cacheable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import render_template, request, url_for

from .. import clock
from ..disclosure import inspections
from ..disclosure import service as disclosure
from ..disclosure.models import (  # noqa: F401  (create_all)
    PublicContent,
    PublishedDecision,
    RandomInspectionResult,
)
from ..extensions import db
from ..models import Unit
from ..services.units import display_name
from . import bp

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "public, max-age=300",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}

# The unit's pages in the order of its menu: (endpoint, label).
UNIT_PAGES: list[tuple[str, str]] = [
    ("public.disclosure_unit", "单位信息"),
    ("public.disclosure_officers", "执法人员"),
    ("public.disclosure_powers", "权责清单"),
    ("public.disclosure_random_inspections", "随机抽查事项"),
    ("public.disclosure_inspection_results", "抽查结果"),
    ("public.disclosure_procedures", "执法流程"),
    ("public.disclosure_remedies", "救济渠道"),
    ("public.disclosure_decisions", "处罚决定"),
    ("public.report_index", "统计年报"),
]


class PublicNotFound(Exception):
    """Nothing public at this address: rendered as a friendly 404 page."""


@bp.errorhandler(PublicNotFound)
def _not_found(_exc: PublicNotFound):
    html = render_template("public/disclosure_missing.html", unit=None, not_found=True)
    return html, 404, {**_HEADERS, "Cache-Control": "public, max-age=60"}


def _page(template: str, **context: Any):
    return render_template(f"public/{template}", **context), 200, _HEADERS


def _unit(code: str) -> Unit:
    unit = disclosure.unit_by_code(db.session, code)
    if unit is None:
        raise PublicNotFound(code)
    return unit


def _unit_context(unit: Unit, endpoint: str) -> dict[str, Any]:
    return {
        "unit": unit,
        "unit_name": display_name(unit, db.session),
        "nav": [(url_for(ep, code=unit.code), label, ep == endpoint) for ep, label in UNIT_PAGES],
    }


def _content_page(code: str, kind: str, endpoint: str, template: str, **extra: Any):
    """A unit page showing the latest version of one kind, or 尚未公开 when there is none."""
    unit = _unit(code)
    context = _unit_context(unit, endpoint)
    row = disclosure.latest_content(db.session, unit.id, kind)
    title = disclosure.CONTENT_LABELS[kind]
    if row is None:
        return _page("disclosure_missing.html", title=title, not_found=False, **context)
    return _page(template, title=title, row=row, content=row.content, **context, **extra)


@bp.app_template_filter("shanghai_time")
def _shanghai_time(at: Any) -> str:
    """An instant (or its ISO text) as Beijing time, ``2026-05-01 10:20``."""
    if isinstance(at, str) and at:
        at = datetime.fromisoformat(at)
    return disclosure.local_time(clock.aware(at)) if at else ""


@bp.get("/")
def disclosure_index():
    return _page("disclosure_index.html", units=disclosure.public_units(db.session))


@bp.get("/units/<code>/")
def disclosure_unit(code: str):
    return _content_page(code, "unit_info", "public.disclosure_unit", "disclosure_unit.html")


@bp.get("/units/<code>/officers")
def disclosure_officers(code: str):
    unit = _unit(code)
    now = clock.now()
    officers = disclosure.certified_officers(db.session, unit.id, now)
    return _page(
        "disclosure_officers.html",
        title="执法人员",
        officers=officers,
        generated_at=now,
        **_unit_context(unit, "public.disclosure_officers"),
    )


@bp.get("/units/<code>/powers")
def disclosure_powers(code: str):
    return _content_page(code, "power_list", "public.disclosure_powers", "disclosure_powers.html")


@bp.get("/units/<code>/random-inspections")
def disclosure_random_inspections(code: str):
    return _content_page(
        code,
        "random_inspection_list",
        "public.disclosure_random_inspections",
        "disclosure_inspections.html",
    )


@bp.get("/units/<code>/procedures")
def disclosure_procedures(code: str):
    return _content_page(
        code, "procedures", "public.disclosure_procedures", "disclosure_procedures.html"
    )


@bp.get("/units/<code>/procedures.svg")
def disclosure_procedures_svg(code: str):
    unit = _unit(code)
    row = disclosure.latest_content(db.session, unit.id, "procedures")
    simple = request.args.get("procedure") == "simple"
    steps = (row.content.get("simple_steps" if simple else "steps") or []) if row else []
    if not steps:
        raise PublicNotFound(code)
    svg = disclosure.procedure_flow_svg(steps, title="简易程序" if simple else "一般程序")
    return svg, 200, {**_HEADERS, "Content-Type": "image/svg+xml; charset=utf-8"}


@bp.get("/units/<code>/remedies")
def disclosure_remedies(code: str):
    return _content_page(code, "remedies", "public.disclosure_remedies", "disclosure_remedies.html")


def _date_arg(name: str, errors: list[str], label: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{label}“{raw}”不是有效日期，请按 年-月-日 填写，例如 2026-01-31。")
        return None


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() else 1  # not "²", which int() refuses


def _paging(endpoint: str, code: str) -> tuple[dict[str, str], Callable[[int], str]]:
    """A paged search's own query arguments, and the URL of page ``n`` keeping them."""
    args = {k: v for k, v in request.args.items() if k != "page" and v}

    def page_url(n: int) -> str:
        return url_for(endpoint, code=code, page=n, **args)

    return args, page_url


@bp.get("/units/<code>/decisions")
def disclosure_decisions(code: str):
    unit = _unit(code)
    today = clock.today()
    errors: list[str] = []
    search = disclosure.DecisionSearch(
        q=request.args.get("q", "").strip()[:100],
        number=request.args.get("number", "").strip()[:80],
        date_from=_date_arg("from", errors, "起始日期"),
        date_to=_date_arg("to", errors, "截止日期"),
        penalty_type=request.args.get("type", "").strip()[:50],
        page=_page_number(),
    )
    result = disclosure.search_published(db.session, unit.id, search, today)
    args, page_url = _paging("public.disclosure_decisions", unit.code)

    return _page(
        "disclosure_decisions.html",
        title="行政处罚决定",
        search=search,
        args=args,
        errors=errors,
        result=result,
        page_url=page_url,
        types=[
            (kind, disclosure.penalty_label(kind))
            for kind in disclosure.penalty_types(db.session, unit.id, today)
        ],
        updated_at=max((d.published_at for d in result.items if d.published_at), default=None),
        **_unit_context(unit, "public.disclosure_decisions"),
    )


@bp.get("/units/<code>/inspection-results")
def disclosure_inspection_results(code: str):
    unit = _unit(code)
    errors: list[str] = []
    search = inspections.ResultSearch(
        item=request.args.get("item", "").strip()[:300],
        object=request.args.get("object", "").strip()[:100],
        date_from=_date_arg("from", errors, "起始日期"),
        date_to=_date_arg("to", errors, "截止日期"),
        page=_page_number(),
    )
    result = inspections.search_published(db.session, unit.id, search)
    args, page_url = _paging("public.disclosure_inspection_results", unit.code)

    return _page(
        "disclosure_inspection_results.html",
        title="随机抽查结果",
        search=search,
        args=args,
        errors=errors,
        result=result,
        page_url=page_url,
        items=inspections.published_items(db.session, unit.id),
        labels=inspections.RESULT_LABELS,
        notices=inspections.takedown_notices(db.session, unit.id),
        updated_at=max((r.published_at for r in result.items if r.published_at), default=None),
        **_unit_context(unit, "public.disclosure_inspection_results"),
    )


@bp.get("/decisions/<int:decision_id>")
def disclosure_decision(decision_id: int):
    shown = disclosure.public_decision(db.session, decision_id, clock.today())
    if shown is None:
        raise PublicNotFound(str(decision_id))
    pd = shown.decision
    return _page(
        "disclosure_decision.html",
        title=pd.title,
        d=pd,
        taken_down=shown.taken_down,
        corrected_by=shown.corrected_by,
        paragraphs=[line for line in pd.body.splitlines() if line.strip()],
        **_unit_context(pd.unit, "public.disclosure_decisions"),
    )
