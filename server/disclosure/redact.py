"""Personal-data scanner and name masking for published decisions (pure functions).

``scan`` finds what must never reach a public page: PRC resident ID numbers (GB 11643, with a
valid check digit and birth date), mainland mobile and landline numbers, bank card numbers
(Luhn) and detailed addresses. It is tuned to stay quiet on what a decision legitimately
contains: its number (沪市监罚〔2026〕12号), dates, amounts and an organisation's unified social
credit code.

    >>> [h.kind for h in scan("联系电话 138-1234-5678")]
    ['phone']
    >>> mask_name("欧阳修")
    '欧阳某'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from .. import clock

# --- hits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One finding: what kind, where (field, offsets, line/column) and a masked excerpt."""

    kind: str  # id_number | phone | bank_card | address
    start: int
    end: int
    excerpt: str
    field: str = ""
    line: int = 1
    column: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


KIND_LABELS = {
    "id_number": "身份证号码",
    "phone": "电话号码",
    "bank_card": "银行卡号",
    "address": "详细地址",
}

# Full-width digits and signs map one character to one character, so offsets stay valid.
_FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９＋－Ｘｘ（）　",
    "0123456789+-Xx() ",
)

# --- check digits ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level codes of GB/T 2260 (71 Taiwan, 81 Hong Kong, 82 Macao, 83 the newer
# mainland-issued residence permits for Taiwan residents).
_PROVINCE_RANGES = ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65), (71, 71), (81, 83))
_PROVINCES = frozenset(str(c) for low, high in _PROVINCE_RANGES for c in range(low, high + 1))


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(number: str, *, today: date | None = None) -> bool:
    """18 characters, a known province, a real birth date not in the future, right check."""
    number = number.upper()
    if not re.fullmatch(r"\d{17}[\dX]", number) or number[:2] not in _PROVINCES:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= (today or clock.today()):
        return False
    return id_check_digit(number[:17]) == number[17]


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def is_valid_credit_code(code: str) -> bool:
    """A unified social credit code (GB 32100): an organisation's public identifier."""
    code = code.upper()
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code, _USCC_WEIGHTS, strict=False))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


# --- patterns -------------------------------------------------------------------------------

_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6}) ?(\d{8}) ?(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# 16-19 digits, contiguous or in groups of four.
_CARD_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?![0-9A-Za-z])"
)
_MOBILE_RE = re.compile(
    r"(?<![0-9A-Za-z+])(?:\(?(?:\+|00)?86\)?[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![0-9A-Za-z])"
)
_LANDLINE_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:\(0\d{2,3}\)|0\d{2,3})[ -]?[2-9]\d{2,3}[ -]?\d{4}(?![0-9A-Za-z])"
)

_NUM = r"[0-9一二三四五六七八九十百零〇]+"
# Characters that end a place name when reading backwards ("住所地位于上海市…": start after 于).
_PLACE_CHAR = r"(?:(?![住址于在为是的系经其])[\u4e00-\u9fff0-9])"
_ROAD = r"(?:大街|大道|胡同|路|街|巷|弄|道|里|村)"
_ROOM = rf"(?:{_NUM}(?:号楼|栋|幢|座|单元|室|层|楼|号|弄|组|户))"
_ADDRESS_RE = re.compile(
    # …路/街/巷/村 + number + 号 (弄, 组), then building, unit and room.
    rf"{_PLACE_CHAR}{{1,24}}?{_ROAD}{_NUM}(?:号|弄|组|巷){_ROOM}*"
    # …小区/花园 (or no name) + building + unit/room.
    rf"|(?:{_PLACE_CHAR}{{1,24}}?(?:小区|花园|公寓|新村|家园|苑|大厦))?"
    rf"{_NUM}(?:号楼|栋|幢|座){_NUM}(?:单元|室|层)(?:{_NUM}(?:室|号|户))?"
)

# A digit run right after 〔2026〕/第 or right before 号 is a document's serial, not a card.
_SERIAL_BEFORE = "〕】]）)第"
_SERIAL_AFTER = "号"


def _is_serial(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return (before != "" and before in _SERIAL_BEFORE) or after == _SERIAL_AFTER


# --- masking of excerpts ----------------------------------------------------------------------


def _mask_digits(raw: str, keep_head: int, keep_tail: int) -> str:
    positions = [i for i, c in enumerate(raw) if c.isdigit() or c in "Xx"]
    hidden = set(positions[keep_head : len(positions) - keep_tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(raw))


def _mask_excerpt(kind: str, raw: str) -> str:
    if kind == "id_number":
        return _mask_digits(raw, 3, 2)
    if kind == "phone":
        return _mask_digits(raw, len(re.sub(r"\D", "", raw)) - 8, 4)
    if kind == "bank_card":
        return _mask_digits(raw, 4, 4)
    return re.sub(r"[0-9一二三四五六七八九十百零〇]", "*", raw)


# --- scanning -------------------------------------------------------------------------------


def _id_numbers(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _ID_RE.finditer(text) if is_valid_id_number("".join(m.groups()))]


def _bank_cards(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not 16 <= len(digits) <= 19 or digits[0] == "0" or not luhn_ok(digits):
            continue
        if _is_serial(text, *m.span()) or is_valid_credit_code(digits):
            continue
        spans.append(m.span())
    return spans


def _phones(text: str) -> list[tuple[int, int]]:
    spans = []
    for regex in (_MOBILE_RE, _LANDLINE_RE):
        spans += [m.span() for m in regex.finditer(text) if not _is_serial(text, *m.span())]
    return spans


def _addresses(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _ADDRESS_RE.finditer(text)]


_DETECTORS = (
    ("id_number", _id_numbers),
    ("bank_card", _bank_cards),
    ("phone", _phones),
    ("address", _addresses),
)


def scan(text: str, *, field: str = "") -> list[Hit]:
    """Every personal-data finding in ``text``, in reading order; ``field`` names the source.

    Detectors run strongest first (ID, card, phone, address) and a weaker one never claims
    characters a stronger one already did.
    """
    if not text:
        return []
    normalised = text.translate(_FULL_WIDTH)
    taken: list[tuple[int, int]] = []
    hits: list[Hit] = []
    for kind, detect in _DETECTORS:
        for start, end in detect(normalised):
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            line_start = text.rfind("\n", 0, start) + 1
            hits.append(
                Hit(
                    kind=kind,
                    start=start,
                    end=end,
                    excerpt=_mask_excerpt(kind, text[start:end]),
                    field=field,
                    line=text.count("\n", 0, start) + 1,
                    column=start - line_start + 1,
                )
            )
    hits.sort(key=lambda h: h.start)
    return hits


def scan_fields(fields: dict[str, str | None]) -> list[Hit]:
    """``scan`` over several named fields (the whole page to be published)."""
    return [hit for name, value in fields.items() for hit in scan(value or "", field=name)]


# --- names ----------------------------------------------------------------------------------

_COMPOUND_SURNAME_PAIRS = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒夏侯轩辕令狐钟离闾丘端木南宫西门独孤万俟"
    "澹台公冶宗政濮阳太史申屠呼延百里东郭拓跋司空鲜于赫连淳于单于左丘子车亓官仲孙乐正漆雕公良"
    "谷梁段干第五"
)
COMPOUND_SURNAMES = frozenset(
    _COMPOUND_SURNAME_PAIRS[i : i + 2] for i in range(0, len(_COMPOUND_SURNAME_PAIRS), 2)
)


def mask_name(name: str) -> str:
    """张三 → 张某, 欧阳修 → 欧阳某; a name of another script keeps nothing but 某."""
    name = name.strip()
    if not name:
        return ""
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + "某"
    first = name[0]
    return first + "某" if "\u4e00" <= first <= "\u9fff" else "某"


def redact_text(text: str, names: list[str]) -> str:
    """Replace every natural person's name in ``names`` by its masked form (longest first)."""
    wanted = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
    if not wanted or not text:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in wanted))
    return pattern.sub(lambda m: mask_name(m.group()), text)
