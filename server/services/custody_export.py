"""Chain-of-custody exports of one media item: CSV (UTF-8 with BOM) and PDF (A4, CJK font).

Both list the item's facts (the PDF on its first page) and then every audit entry about the
item, oldest first: time in Asia/Shanghai, who, what, the details and the entry's hash, so a
printed copy can be checked against the hash-chained log.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import ACTIVITY_LABELS, STAGE_LABELS
from ..models import AuditEntry, Case, MediaItem, User
from . import audit
from .credentials import SHANGHAI

# reportlab's built-in Adobe CJK font: needs no font file, every PDF reader knows it, and its
# text extracts as Unicode. Debian's Noto CJK fonts are CFF-flavoured, which reportlab
# cannot embed; a TrueType CJK font (covering Latin too) can be configured instead.
BUILTIN_CJK_FONT = "STSong-Light"
_TTF_NAME = "FieldtraceCJK"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CustodyLine:
    seq: int
    at: str
    actor: str
    action: str
    details: str
    entry_hash: str
    prev_hash: str


def local_time(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def custody_lines(session: Session, item: MediaItem) -> list[CustodyLine]:
    """Every audit entry about the item, oldest first, actors by name and account."""
    entries = audit.entries_for(session, "media", item.id)
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    names: dict[int, str] = {}
    if ids:
        rows = session.execute(sa.select(User.id, User.name).where(User.id.in_(ids)))
        names = {user_id: name for user_id, name in rows}
    return [_line(e, names) for e in entries]


def _line(entry: AuditEntry, names: dict[int, str]) -> CustodyLine:
    if entry.actor_id is None:
        actor = "系统 system"
    else:
        actor = f"{names.get(entry.actor_id, '?')} ({entry.actor})"
    return CustodyLine(
        seq=entry.seq,
        at=local_time(entry.at),
        actor=actor,
        action=entry.action,
        details=json.dumps(entry.details or {}, ensure_ascii=False, sort_keys=True),
        entry_hash=entry.entry_hash,
        prev_hash=entry.prev_hash,
    )


def item_facts(session: Session, item: MediaItem) -> list[tuple[str, str]]:
    """The item's facts as (label, value), Chinese label first."""
    case = session.get(Case, item.case_id)
    uploader = session.get(User, item.uploader_id)
    match = (
        "待核验 pending"
        if item.server_sha256 is None
        else ("一致 match" if item.server_sha256 == item.device_sha256 else "不一致 MISMATCH")
    )
    place = (
        f"{item.latitude:.6f}, {item.longitude:.6f} (±{item.accuracy_m or 0:.0f} m)"
        if item.latitude is not None and item.longitude is not None
        else (item.location_status or "—")
    )
    stage = item.attached_stage or item.stage
    return [
        ("证据编号 Item", item.id),
        ("案件 Case", f"{case.number} {case.title}" if case else str(item.case_id)),
        (
            "环节 Stage",
            f"{STAGE_LABELS[stage]['zh']} {stage}" if stage in STAGE_LABELS else "未归入",
        ),
        (
            "活动 Activity",
            f"{ACTIVITY_LABELS.get(item.activity, {}).get('zh', '')} {item.activity}".strip(),
        ),
        ("类型 Kind", f"{item.kind} / {item.detected_content_type or item.claimed_content_type}"),
        ("文件 File", f"{item.filename} ({item.size} bytes)"),
        ("设备哈希 Device SHA-256", item.device_sha256),
        ("服务器哈希 Server SHA-256", item.server_sha256 or "—"),
        ("哈希比对 Hashes", match),
        ("状态 Status", item.status),
        ("拍摄时间 Captured (device)", local_time(item.captured_at)),
        ("接收时间 Received (server)", local_time(item.received_at)),
        ("存储时间 Stored", local_time(item.stored_at)),
        ("核验时间 Verified", local_time(item.verified_at)),
        ("锁定至 Locked until", local_time(item.locked_until)),
        (
            "设备时钟偏差 Device clock offset",
            "—" if item.device_clock_offset_s is None else f"{item.device_clock_offset_s:.1f} s",
        ),
        ("设备 Device", item.device_id),
        ("上传人 Uploader", f"{uploader.name} ({uploader.username})" if uploader else "—"),
        ("位置 Location", place),
        ("重要证据 Key evidence", "是 yes" if item.key_evidence else "否 no"),
    ]


def _cell(value: Any) -> str:
    """Neutralise spreadsheet formulas: a cell never starts with = + - @."""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


CSV_HEADER = (
    "序号 seq",
    "时间 time (Asia/Shanghai)",
    "操作人 actor",
    "操作 action",
    "详情 details",
    "条目哈希 entry_hash",
    "前一条哈希 prev_hash",
)


def to_csv(lines: list[CustodyLine]) -> bytes:
    """One header row, then one row per entry; UTF-8 with BOM so Excel reads the Chinese."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(
            [
                line.seq,
                line.at,
                _cell(line.actor),
                line.action,
                _cell(line.details),
                line.entry_hash,
                line.prev_hash,
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


@cache
def pdf_font(ttf_path: str | None = None) -> str:
    """Register and name the font for PDFs: a configured TrueType font (``path`` or
    ``path#index`` inside a .ttc) or the built-in STSong-Light."""
    from reportlab.pdfbase import pdfmetrics

    if ttf_path:
        from reportlab.pdfbase.ttfonts import TTFont

        path, _, index = ttf_path.partition("#")
        pdfmetrics.registerFont(TTFont(_TTF_NAME, path, subfontIndex=int(index or 0)))
        return _TTF_NAME
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(BUILTIN_CJK_FONT))
    return BUILTIN_CJK_FONT


def to_pdf(
    facts: list[tuple[str, str]],
    lines: list[CustodyLine],
    *,
    generated_at: datetime,
    generated_by: str,
    font_path: str | None = None,
) -> bytes:
    """An A4 report: title, the item's facts, then the entries in a table."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table
    from reportlab.platypus.tables import TableStyle

    font = pdf_font(font_path)
    body = ParagraphStyle("body", fontName=font, fontSize=7.5, leading=9.5, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=6.5, leading=8)
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, spaceAfter=4)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, spaceBefore=8)

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    width = A4[0] - 30 * mm
    facts_table = Table(
        [[p(label), p(value)] for label, value in facts], colWidths=[45 * mm, width - 45 * mm]
    )
    facts_table.setStyle(grid)
    header = [
        "序号 seq",
        "时间 time",
        "操作人 actor",
        "操作 action",
        "详情 details",
        "条目哈希 hash",
    ]
    rows = [[p(h) for h in header]] + [
        [
            p(str(line.seq), small),
            p(line.at, small),
            p(line.actor, small),
            p(line.action, small),
            p(line.details, small),
            p(line.entry_hash, small),
        ]
        for line in lines
    ]
    widths = [12 * mm, 24 * mm, 26 * mm, 30 * mm]
    widths += [width - sum(widths) - 30 * mm, 30 * mm]
    entries_table = LongTable(rows, colWidths=widths, repeatRows=1)
    entries_table.setStyle(
        TableStyle([*grid.getCommands(), ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    )
    stamp = f"生成 generated {local_time(generated_at)} (Asia/Shanghai) / {generated_by}"

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, 8 * mm, stamp)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"第 {doc.page} 页 page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"证据保管链 Chain of custody {facts[0][1] if facts else ''}",
        author="Fieldtrace",
    )
    doc.build(
        [
            Paragraph("证据保管链 Chain of custody", title),
            facts_table,
            Spacer(1, 4 * mm),
            Paragraph(f"保管记录 Custody entries ({len(lines)})", heading),
            entries_table,
        ],
        onFirstPage=footer,
        onLaterPages=footer,
    )
    return buf.getvalue()
