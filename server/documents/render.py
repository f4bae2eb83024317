"""PDF rendering of an enforcement document (A4, CJK font) and the check of a signature PNG.

Layout: unit name and title centred, the number right-aligned under them, every field with
its Chinese label in schema order, the signatures (each PNG scaled into a box with its role
and signing time), then the unit and the date of issue. The footer carries the case number,
the version and the page number.

    >>> pdf = render_pdf(RenderInput(doc_type=get_type("service_receipt"), ...))
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from marshmallow import fields
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from .. import clock
from ..services.custody_export import pdf_font
from .registry import SIGNER_ROLES, Choice, DocumentType, Text

__all__ = ["RenderInput", "SignatureImage", "render_pdf", "render_signature_check"]

SIGNATURE_MAX_BYTES = 500 * 1024
SIGNATURE_MAX_SIZE = (2000, 1000)
_SIGNATURE_BOX = (55 * mm, 20 * mm)
_MARGIN = 20 * mm
# No-break spaces: reportlab collapses ordinary and ideographic ones.
_BLANK_DATE = "\u00a0" * 6 + "年" + "\u00a0" * 4 + "月" + "\u00a0" * 4 + "日"


@dataclass(frozen=True)
class SignatureImage:
    """A signature from the on-screen pad. ``signed_at`` without a zone is taken as UTC."""

    role: str
    signer_name: str
    png: bytes
    signed_at: datetime


@dataclass(frozen=True)
class RenderInput:
    """Everything printed on one version of a document; ``fields`` are already validated
    (loaded Python values or their JSON form)."""

    doc_type: DocumentType
    unit_name: str
    number: str | None
    case_number: str
    case_title: str
    fields: dict[str, Any]
    signatures: list[SignatureImage]
    version: int
    issued_at: datetime | None
    content_sha256_note: str | None = None


def render_pdf(doc: RenderInput, *, font_path: str | None = None) -> bytes:
    """The document as an A4 PDF. ``font_path``: a TrueType CJK font (see `pdf_font`)."""
    font = pdf_font(font_path)
    styles = _styles(font)
    number = doc.number or "（草稿）"
    story: list[Flowable] = [
        Paragraph(_esc(doc.unit_name), styles["unit"]),
        Paragraph(_esc(doc.doc_type.title["zh"]), styles["title"]),
        Paragraph(_esc(number), styles["number"]),
        Paragraph(_esc(f"案件：{doc.case_title}（{doc.case_number}）"), styles["small"]),
        Spacer(1, 3 * mm),
    ]
    schema = doc.doc_type.schema()
    for name, field in schema.fields.items():
        story += _field_flowables(field, doc.fields.get(name), styles, depth=0)
    story += _signature_area(doc, styles)
    story += [
        Spacer(1, 8 * mm),
        Paragraph(_esc(doc.unit_name), styles["right"]),
        Paragraph(_esc(_issued_date(doc.issued_at)), styles["right"]),
    ]
    if doc.content_sha256_note:
        story += [Spacer(1, 4 * mm), Paragraph(_esc(doc.content_sha256_note), styles["small"])]

    footer_text = f"案号 {doc.case_number}　第{doc.version}版"

    def footer(canvas: Any, template: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(_MARGIN, 10 * mm, footer_text)
        canvas.drawRightString(A4[0] - _MARGIN, 10 * mm, f"第 {template.page} 页")
        canvas.restoreState()

    buf = io.BytesIO()
    template = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=f"{doc.doc_type.title['zh']} {number}",
        author=doc.unit_name,
        subject=doc.case_number,
        creator="Fieldtrace",
    )
    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def render_signature_check(png: bytes) -> None:
    """Accept only a non-blank PNG within the size limits; ``ValueError`` otherwise."""
    if len(png) > SIGNATURE_MAX_BYTES:
        raise ValueError(f"签名图片超过500 kB / signature image larger than 500 kB ({len(png)} B)")
    try:
        # Opening reads only the header, so the size is checked before any pixel is decoded.
        with PILImage.open(io.BytesIO(png)) as header:
            kind, size = header.format, header.size
            if kind != "PNG":
                raise ValueError(f"签名须为PNG图片 / signature must be a PNG (got {kind})")
            if size[0] > SIGNATURE_MAX_SIZE[0] or size[1] > SIGNATURE_MAX_SIZE[1]:
                raise ValueError(
                    "签名图片尺寸超过2000×1000 / signature larger than 2000×1000 px"
                    f" ({size[0]}×{size[1]})"
                )
            header.verify()
        with PILImage.open(io.BytesIO(png)) as image:
            image.load()
            rgba = image.convert("RGBA")
    except ValueError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"签名图片无法解析 / signature is not a readable PNG ({exc})") from exc
    # Transparent pixels count as white paper; a blank pad is one uniform colour.
    paper = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
    low, high = PILImage.alpha_composite(paper, rgba).convert("L").getextrema()
    if low == high or low >= 240:
        raise ValueError("签名为空白 / signature is blank")


# --- body ----------------------------------------------------------------------------------


def _styles(font: str) -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=17, wordWrap="CJK")
    return {
        "body": body,
        "unit": ParagraphStyle("unit", parent=body, fontSize=16, leading=24, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=body, fontSize=20, leading=30, alignment=TA_CENTER, spaceAfter=2
        ),
        "number": ParagraphStyle("number", parent=body, alignment=TA_RIGHT, spaceAfter=3 * mm),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "small": ParagraphStyle(
            "small", parent=body, fontSize=8.5, leading=12, textColor=colors.dimgrey
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9.5, leading=13),
    }


def _field_flowables(
    field: fields.Field, value: Any, styles: dict[str, ParagraphStyle], *, depth: int
) -> list[Flowable]:
    """``label：value`` paragraphs; objects and lists of objects as indented blocks."""
    label = field.metadata["zh"]
    style = _indented(styles["body"], depth)
    if isinstance(field, fields.Nested):
        out: list[Flowable] = [Paragraph(_labelled(label, ""), style)]
        for name, sub in field.schema.fields.items():
            out += _field_flowables(sub, (value or {}).get(name), styles, depth=depth + 1)
        return out
    if isinstance(field, fields.List):
        out = [Paragraph(_labelled(label, "" if value else "无"), style)]
        inner = field.inner
        if value and isinstance(inner, fields.Nested) and _is_row(inner):
            return [*out, _rows_table(inner, value, styles, depth=depth + 1)]
        for index, item in enumerate(value or [], start=1):
            if isinstance(inner, fields.Nested):
                out += _list_item(index, inner, item or {}, styles, depth=depth + 1)
            else:
                text = f"（{index}）{_scalar(inner, item)}"
                out.append(Paragraph(_esc(text), _indented(styles["body"], depth + 1)))
        return out
    return [Paragraph(_labelled(label, _scalar(field, value)), style)]


def _list_item(
    index: int,
    inner: fields.Nested,
    item: dict[str, Any],
    styles: dict[str, ParagraphStyle],
    *,
    depth: int,
) -> list[Flowable]:
    """One entry of a list of objects: ``（n）`` then its fields, one line each."""
    out: list[Flowable] = []
    for position, (name, sub) in enumerate(inner.schema.fields.items()):
        if isinstance(sub, fields.Nested | fields.List):
            out += _field_flowables(sub, item.get(name), styles, depth=depth + 1)
            continue
        prefix = f"（{index}）" if position == 0 else ""
        text = _labelled(sub.metadata["zh"], _scalar(sub, item.get(name)))
        style = _hanging(styles, depth, first=position == 0)
        out.append(Paragraph(_esc(prefix) + text, style))
    return out


def _is_row(inner: fields.Nested) -> bool:
    """Entries of short scalar fields (a catalogue, a list of officers) print as a table."""
    columns = inner.schema.fields.values()
    return len(columns) <= 6 and not any(
        isinstance(c, Text | fields.Nested | fields.List) for c in columns
    )


def _rows_table(
    inner: fields.Nested,
    items: list[dict[str, Any]],
    styles: dict[str, ParagraphStyle],
    *,
    depth: int,
) -> Table:
    columns = list(inner.schema.fields.items())
    cell = styles["cell"]
    header = [Paragraph(_esc(c.metadata["zh"]), cell) for _, c in columns]
    rows = [
        [Paragraph(_esc(_scalar(c, (item or {}).get(n))), cell) for n, c in columns]
        for item in items
    ]
    # Right-aligned at the indented width, which is how a table is indented in a frame.
    width = A4[0] - 2 * _MARGIN - depth * 2 * styles["body"].fontSize
    table = LongTable(
        [header, *rows],
        colWidths=[width / len(columns)] * len(columns),
        repeatRows=1,
        hAlign="RIGHT",
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _scalar(field: fields.Field, value: Any) -> str:
    """A field value as printed: booleans 是/否, choices by label, dates in Chinese."""
    if value is None or value == "":
        return ""
    if isinstance(field, Choice):
        return field.choices.get(str(value), {}).get("zh", str(value))
    if isinstance(field, fields.Boolean):
        return "是" if value in (True, "true", "True", 1) else "否"
    if isinstance(field, fields.Date):
        return _cn_date(date.fromisoformat(value) if isinstance(value, str) else value)
    if isinstance(field, fields.DateTime):
        at = datetime.fromisoformat(value) if isinstance(value, str) else value
        if at.tzinfo is not None:
            at = at.astimezone(clock.ZONE)
        return f"{_cn_date(at)} {at:%H:%M}"
    if isinstance(field, fields.Decimal):
        return f"{Decimal(str(value)):.2f}"
    return str(value)


# --- signatures ----------------------------------------------------------------------------


def _signature_area(doc: RenderInput, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """One row per signature, required roles first; a required role not yet signed gets an
    empty box to sign on paper."""
    roles = list(doc.doc_type.signatures)
    roles += [s.role for s in doc.signatures if s.role not in roles]
    rows: list[list[Any]] = []
    for role in roles:
        label = f"{SIGNER_ROLES.get(role, {'zh': role})['zh']}签名"
        signed = [s for s in doc.signatures if s.role == role]
        if not signed:
            rows.append([Paragraph(_esc(label), styles["body"]), "", ""])
        for signature in signed:
            local = _server_time(signature.signed_at)
            caption = f"{_esc(signature.signer_name)}<br/>{_cn_date(local)} {local:%H:%M}"
            rows.append(
                [
                    Paragraph(_esc(label), styles["body"]),
                    _signature_image(signature.png),
                    Paragraph(caption, styles["small"]),
                ]
            )
    if not rows:
        return []
    width = A4[0] - 2 * _MARGIN
    table = Table(
        rows,
        colWidths=[35 * mm, _SIGNATURE_BOX[0] + 6 * mm, width - 41 * mm - _SIGNATURE_BOX[0]],
        rowHeights=[_SIGNATURE_BOX[1] + 6 * mm] * len(rows),
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, -1), "CENTER"),
            ]
        )
    )
    return [Spacer(1, 6 * mm), KeepTogether([table])]


def _signature_image(png: bytes) -> Image:
    """The PNG scaled, aspect kept, into the signature box."""
    width, height = ImageReader(io.BytesIO(png)).getSize()
    scale = min(_SIGNATURE_BOX[0] / width, _SIGNATURE_BOX[1] / height)
    return Image(io.BytesIO(png), width=width * scale, height=height * scale)


# --- text helpers --------------------------------------------------------------------------


def _esc(text: str) -> str:
    """Plain text as Paragraph markup; line breaks kept."""
    return escape(text).replace("\r\n", "\n").replace("\n", "<br/>")


def _labelled(label: str, value: str) -> str:
    return f'<font color="#444444">{_esc(label)}：</font>{_esc(value)}'


def _indented(style: ParagraphStyle, depth: int) -> ParagraphStyle:
    if not depth:
        return style
    return ParagraphStyle(
        f"{style.name}-{depth}", parent=style, leftIndent=depth * 2 * style.fontSize
    )


def _hanging(styles: dict[str, ParagraphStyle], depth: int, *, first: bool) -> ParagraphStyle:
    """Lines of a list entry, aligned after its ``（n）``, which hangs out on the first."""
    body = styles["body"]
    step = 2 * body.fontSize
    return ParagraphStyle(
        f"hanging-{depth}-{first}",
        parent=body,
        leftIndent=(depth + 1) * step,
        firstLineIndent=-step if first else 0,
    )


def _cn_date(day: date) -> str:
    """``2026年11月27日``; an aware datetime is first taken to Asia/Shanghai."""
    if isinstance(day, datetime) and day.tzinfo is not None:
        day = day.astimezone(clock.ZONE)
    return f"{day.year}年{day.month}月{day.day}日"


def _issued_date(at: datetime | None) -> str:
    """The date of issue, or blanks to fill in by hand on a draft."""
    return _cn_date(_server_time(at)) if at else _BLANK_DATE


def _server_time(at: datetime) -> datetime:
    """A server timestamp (naive means UTC) in Asia/Shanghai."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(clock.ZONE)
