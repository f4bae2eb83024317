"""执法统计年报 public pages: a published report as HTML (with SVG charts), PDF and CSV.

Only published reports are shown; a draft or frozen one is 404 like a missing one. Everything
is rendered from the archived snapshot, never recomputed, so every response of one report is
the same and cacheable (ETag: the snapshot hash).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, make_response, render_template, request, url_for

from ..disclosure import report as reports
from ..disclosure import service as disclosure
from ..disclosure.report_models import AnnualReport
from ..extensions import db
from ..models import Unit
from ..services.units import display_name
from . import bp
from .disclosure import _HEADERS, UNIT_PAGES, PublicNotFound

REPORT_INDEX = "public.report_index"


def _unit_or_404(code: str) -> Unit:
    unit = disclosure.unit_by_code(db.session, code)
    if unit is None:
        raise PublicNotFound(code)
    return unit


def _published(code: str, year: int) -> tuple[Unit, AnnualReport]:
    unit = _unit_or_404(code)
    report = reports.published_report(db.session, unit.id, year)
    if report is None:
        raise PublicNotFound(f"{code}/{year}")
    return unit, report


def _default_unit(year: int) -> str:
    """``?unit=<code>``, else the first unit (by code) that published the year's report."""
    code = request.args.get("unit", "").strip()
    if code:
        return code
    unit = reports.first_unit_with_published(db.session, year)
    if unit is None:
        raise PublicNotFound(str(year))
    return unit.code


def _context(unit: Unit) -> dict[str, Any]:
    nav = [(url_for(ep, code=unit.code), label, False) for ep, label in UNIT_PAGES]
    nav.append((url_for(REPORT_INDEX, code=unit.code), "统计年报", True))
    return {"unit": unit, "unit_name": display_name(unit, db.session), "nav": nav}


def _send(body: Any, report: AnnualReport, content_type: str, **headers: str):
    response = make_response(body)
    response.headers.update({**_HEADERS, "Content-Type": content_type, **headers})
    response.set_etag(report.snapshot_sha256 or "")
    return response.make_conditional(request)


# --- pages ----------------------------------------------------------------------------------


@bp.get("/units/<code>/reports/")
def report_index(code: str):
    unit = _unit_or_404(code)
    years = reports.published_years(db.session, unit.id)
    html = render_template(
        "public/report_index.html", title="统计年报", years=years, **_context(unit)
    )
    return html, 200, _HEADERS


@bp.get("/units/<code>/reports/<int:year>")
def report_page(code: str, year: int):
    unit, report = _published(code, year)
    figures = report.figures
    charts = [
        {
            "src": url_for("public.report_chart", code=unit.code, year=year, name=name),
            "title": reports.CHART_TITLES[name],
            "alt": reports.chart_alt(figures, name),
        }
        for name in reports.CHART_NAMES
    ]
    html = render_template(
        "public/report_page.html",
        title=f"{year}年度行政执法统计年报",
        report=report,
        f=figures,
        charts=charts,
        penalty_kinds=[(k, reports.PENALTY_LABELS[k]) for k in reports.PENALTY_KINDS],
        procedures=reports.PROCEDURE_LABELS,
        remedy_kinds=reports.REMEDY_KINDS,
        remedy_outcomes=reports.REMEDY_OUTCOMES,
        percent=reports.percent,
        yuan=reports.yuan,
        months=list(
            zip(
                range(1, 13),
                figures["cases"]["by_month"],
                figures["penalties"]["by_month"],
                strict=True,
            )
        ),
        pdf_url=url_for("public.report_pdf", code=unit.code, year=year),
        csv_url=url_for("public.report_csv", code=unit.code, year=year),
        **_context(unit),
    )
    return _send(html, report, "text/html; charset=utf-8")


@bp.get("/units/<code>/reports/<int:year>.pdf")
def report_pdf(code: str, year: int):
    unit, report = _published(code, year)
    pdf = reports.to_pdf(report, font_path=current_app.config.get("PDF_FONT"))
    return _send(
        pdf,
        report,
        "application/pdf",
        **{"Content-Disposition": f'inline; filename="report-{unit.code}-{year}.pdf"'},
    )


@bp.get("/units/<code>/reports/<int:year>.csv")
def report_csv(code: str, year: int):
    unit, report = _published(code, year)
    return _send(
        reports.to_csv(report),
        report,
        "text/csv; charset=utf-8",
        **{"Content-Disposition": f'attachment; filename="report-{unit.code}-{year}.csv"'},
    )


@bp.get("/units/<code>/reports/<int:year>/charts/<name>.svg")
def report_chart(code: str, year: int, name: str):
    if name not in reports.CHART_NAMES:
        raise PublicNotFound(name)
    _, report = _published(code, year)
    return _send(reports.chart_svg(report.figures, name), report, "image/svg+xml; charset=utf-8")


# --- the short addresses (``?unit=<code>``, default the first unit that published) ------------


@bp.get("/reports/<int:year>")
def report_default(year: int):
    return report_page(_default_unit(year), year)


@bp.get("/reports/<int:year>.pdf")
def report_default_pdf(year: int):
    return report_pdf(_default_unit(year), year)


@bp.get("/reports/<int:year>.csv")
def report_default_csv(year: int):
    return report_csv(_default_unit(year), year)


@bp.get("/reports/<int:year>/charts/<name>.svg")
def report_default_chart(year: int, name: str):
    return report_chart(_default_unit(year), year, name)
