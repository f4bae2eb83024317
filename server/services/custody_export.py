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

from .. import clock
from ..domain import ACTIVITY_LABELS, STAGE_LABELS
from ..models import AuditEntry, Case, MediaItem, User
from . import audit
from .audit_words import Lang, action_words, details_text
from .capture_info import describe_capture

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
    # for people (the PDF): the action and its details in words, in the report's language
    action_text: str = ""
    details_text: str = ""
    last_seq: int | None = None  # the PDF's folded reads (summarised): seq to last_seq


def local_time(at: datetime | None) -> str:
    return at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def custody_lines(session: Session, item: MediaItem, lang: Lang = "zh") -> list[CustodyLine]:
    """Every audit entry about the item, oldest first, actors by name and account; the action
    and details also in words of ``lang`` (the CSV keeps the codes and the JSON)."""
    entries = audit.entries_for(session, "media", item.id)
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    names: dict[int, str] = {}
    if ids:
        rows = session.execute(sa.select(User.id, User.name).where(User.id.in_(ids)))
        names = {user_id: name for user_id, name in rows}
    return [_line(e, names, lang) for e in entries]


def _line(entry: AuditEntry, names: dict[int, str], lang: Lang = "zh") -> CustodyLine:
    if entry.actor_id is None:
        actor = "系统" if lang == "zh" else "System"
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
        action_text=action_words(entry.action)[lang],
        details_text=details_text(entry.action, entry.details, lang),
    )


FACT_LABELS: dict[str, tuple[str, str]] = {
    "item": ("证据编号", "Item"),
    "case": ("案件", "Case"),
    "stage": ("环节", "Stage"),
    "activity": ("执法活动", "Activity"),
    "kind": ("类型", "Kind"),
    "file": ("文件", "File"),
    "device_sha256": ("设备计算的哈希（SHA-256）", "Device SHA-256"),
    "server_sha256": ("服务器计算的哈希（SHA-256）", "Server SHA-256"),
    "hashes": ("哈希比对", "Hashes"),
    "status": ("状态", "Status"),
    "captured": ("拍摄时间（设备）", "Captured (device)"),
    "received": ("接收时间（服务器）", "Received (server)"),
    "stored": ("存储时间", "Stored"),
    "verified": ("核验时间", "Verified"),
    "locked": ("锁定至", "Locked until"),
    "clock": ("设备时钟偏差", "Device clock offset"),
    "device": ("设备", "Device"),
    "uploader": ("上传人", "Uploader"),
    "location": ("位置", "Location"),
    "capture": ("拍摄方式", "Taken as"),
    "key": ("重要证据", "Key evidence"),
}
KIND_WORDS = {
    "photo": ("照片", "Photo"),
    "video": ("视频", "Video"),
    "audio": ("录音", "Audio"),
    "document": ("文书", "Document"),
}
STATUS_WORDS = {
    "received": ("已接收，待核验", "Received, not yet verified"),
    "verified": ("已核验", "Verified"),
    "hash_mismatch": ("哈希不一致，已隔离", "Hash mismatch, quarantined"),
}
LOCATION_WORDS = {
    "refused": ("未授权定位", "Location refused"),
    "unavailable": ("无法定位", "Location unavailable"),
}


def _words(table: dict[str, tuple[str, str]], code: str | None, lang: Lang) -> str:
    if not code:
        return "—"
    found = table.get(code)
    return found[0 if lang == "zh" else 1] if found else "—"


def _format_name(content_type: str | None) -> str:
    """``image/jpeg`` → ``JPEG``: the format without the MIME words."""
    sub = (content_type or "").partition("/")[2].split(";")[0].strip()
    return sub.removeprefix("x-").upper() if sub else ""


def item_facts(session: Session, item: MediaItem, lang: Lang = "zh") -> list[tuple[str, str]]:
    """The item's facts as (label, value) in ``lang``; codes said in words."""
    zh = lang == "zh"
    case = session.get(Case, item.case_id)
    uploader = session.get(User, item.uploader_id)
    if item.server_sha256 is None:
        match = "待核验" if zh else "pending"
    elif item.server_sha256 == item.device_sha256:
        match = "一致" if zh else "match"
    else:
        match = "不一致" if zh else "MISMATCH"
    place = (
        f"{item.latitude:.6f}, {item.longitude:.6f} (±{item.accuracy_m or 0:.0f} m)"
        if item.latitude is not None and item.longitude is not None
        else _words(LOCATION_WORDS, item.location_status, lang)
    )
    stage = item.attached_stage or item.stage
    kind = _words(KIND_WORDS, item.kind, lang)
    fmt = _format_name(item.detected_content_type or item.claimed_content_type)
    size = f"{item.size:,} 字节" if zh else f"{item.size:,} bytes"
    offset = item.device_clock_offset_s
    values = {
        "item": item.id,
        "case": f"{case.number} {case.title}" if case else str(item.case_id),
        "stage": STAGE_LABELS[stage][lang]
        if stage in STAGE_LABELS
        else ("未归入环节" if zh else "Not filed under a stage"),
        "activity": ACTIVITY_LABELS.get(item.activity, {}).get(lang, "—"),
        "kind": f"{kind}（{fmt}）" if zh and fmt else (f"{kind} ({fmt})" if fmt else kind),
        "file": f"{item.filename}（{size}）" if zh else f"{item.filename} ({size})",
        "device_sha256": item.device_sha256,
        "server_sha256": item.server_sha256 or "—",
        "hashes": match,
        "status": _words(STATUS_WORDS, item.status, lang),
        "captured": local_time(item.captured_at),
        "received": local_time(item.received_at),
        "stored": local_time(item.stored_at),
        "verified": local_time(item.verified_at),
        "locked": local_time(item.locked_until),
        "clock": "—" if offset is None else (f"{offset:.1f} 秒" if zh else f"{offset:.1f} s"),
        "device": item.device_id,
        "uploader": f"{uploader.name} ({uploader.username})" if uploader else "—",
        "location": place,
        "capture": describe_capture(item.capture, lang),
        "key": ("是" if item.key_evidence else "否")
        if zh
        else ("yes" if item.key_evidence else "no"),
    }
    return [(FACT_LABELS[k][0 if zh else 1], v) for k, v in values.items()]


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


# Reads of the item: any viewer can add thousands of these, so the PDF gives each reader's
# reads of one kind on one day as one line (count, first and last time, their first and last
# entry); the CSV and the JSON keep every entry.
VIEW_ACTIONS = frozenset(
    {
        "media.viewed",
        "media.played",
        "media.downloaded",
        "custody.viewed",
        "custody.exported",
        "playback_url.issued",
    }
)
# Beyond this many rows the PDF stops and says where the rest is (a PDF is for reading).
MAX_PDF_ROWS = 2000


def summarised(lines: list[CustodyLine], lang: Lang = "zh") -> list[CustodyLine]:
    """``lines`` with each reader's repeated reads of one kind on one day folded into the
    first of them: "N 次（首次 … 末次 …）", seq "a–b", and the last entry's hash."""
    groups: dict[tuple[str, str, str], list[CustodyLine]] = {}
    order: list[CustodyLine | tuple[str, str, str]] = []
    for line in lines:
        if line.action not in VIEW_ACTIONS:
            order.append(line)
            continue
        key = (line.actor, line.action, line.at[:10])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(line)
    out: list[CustodyLine] = []
    for entry in order:
        if isinstance(entry, CustodyLine):
            out.append(entry)
            continue
        group = groups[entry]
        first, last = group[0], group[-1]
        if len(group) == 1:
            out.append(first)
            continue
        text = (
            f"共 {len(group)} 次（首次 {first.at}，末次 {last.at}）；首次：{first.details_text}"
            if lang == "zh"
            else f"{len(group)} times (first {first.at}, last {last.at}); first: "
            f"{first.details_text}"
        )
        out.append(
            CustodyLine(
                seq=first.seq,
                at=first.at,
                actor=first.actor,
                action=first.action,
                details=first.details,
                entry_hash=last.entry_hash,
                prev_hash=first.prev_hash,
                action_text=first.action_text,
                details_text=text,
                last_seq=last.seq,
            )
        )
    return out


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
    lang: Lang = "zh",
) -> bytes:
    """An A4 report in ``lang``: title, the item's facts, then the entries in a table, each
    action and its details in words (the codes and the JSON are in the CSV and the chain)."""
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
    zh = lang == "zh"
    header = (
        ["序号", "时间", "操作人", "操作", "详情", "条目哈希"]
        if zh
        else ["Seq", "Time", "Actor", "Action", "Details", "Entry hash"]
    )
    count = len(lines)
    shown = summarised(lines, lang)
    cut = len(shown) - MAX_PDF_ROWS
    shown = shown[:MAX_PDF_ROWS]
    rows = [[p(h) for h in header]] + [
        [
            p(f"{line.seq}–{line.last_seq}" if line.last_seq else str(line.seq), small),
            p(line.at, small),
            p(line.actor, small),
            p(line.action_text, small),
            p(line.details_text, small),
            p(line.entry_hash, small),
        ]
        for line in shown
    ]
    if cut > 0:
        rest = (
            f"另有 {cut} 行未列出，完整记录见 CSV 导出（custody.csv）"
            if zh
            else f"{cut} more rows not listed here: the CSV export (custody.csv) has them all"
        )
        rows.append([p("…", small), p("", small), p("", small), p("", small), p(rest, small)])
        rows[-1].append(p("", small))
    widths = [12 * mm, 24 * mm, 26 * mm, 30 * mm]
    widths += [width - sum(widths) - 30 * mm, 30 * mm]
    entries_table = LongTable(rows, colWidths=widths, repeatRows=1)
    entries_table.setStyle(
        TableStyle([*grid.getCommands(), ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])
    )
    stamp = (
        f"生成时间 {local_time(generated_at)}（北京时间）／生成人 {generated_by}"
        if zh
        else f"Generated {local_time(generated_at)} (Beijing time) by {generated_by}"
    )
    title_text = "证据保管链" if zh else "Chain of custody"

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(15 * mm, 8 * mm, stamp)
        page_no = f"第 {doc.page} 页" if zh else f"Page {doc.page}"
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, page_no)
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{title_text} {facts[0][1] if facts else ''}",
        author="Fieldtrace",
    )
    doc.build(
        [
            Paragraph(title_text, title),
            facts_table,
            Spacer(1, 4 * mm),
            Paragraph(f"保管记录（{count} 条）" if zh else f"Custody entries ({count})", heading),
            entries_table,
        ],
        onFirstPage=footer,
        onLaterPages=footer,
    )
    return buf.getvalue()
