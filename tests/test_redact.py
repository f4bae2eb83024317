"""The personal-data scanner and name masking of published decisions (pure functions)."""

from __future__ import annotations

import pytest

from server.disclosure.redact import (
    id_check_digit,
    is_valid_id_number,
    luhn_ok,
    mask_name,
    redact_text,
    scan,
    scan_fields,
)

# GB 11643's own example; its check character is X.
VALID_ID = "11010519491231002X"
VALID_ID_DIGIT = "440308199901011234"  # check digit computed independently below
CARD_19 = "6228480402564890018"  # passes Luhn
CARD_16 = "4111111111111111"  # passes Luhn


def kinds(text: str) -> list[str]:
    return [h.kind for h in scan(text)]


def gb11643(first17: str) -> str:
    """The check character, computed here from the standard's definition (ISO 7064 MOD 11-2)."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def test_check_digit_matches_the_standard():
    assert id_check_digit(VALID_ID[:17]) == "X" == gb11643(VALID_ID[:17])
    assert gb11643(VALID_ID_DIGIT[:17]) == VALID_ID_DIGIT[17] == id_check_digit(VALID_ID_DIGIT[:17])


@pytest.mark.parametrize("number", [VALID_ID, VALID_ID.lower(), VALID_ID_DIGIT])
def test_valid_id_numbers(number):
    assert is_valid_id_number(number)
    hits = scan(f"当事人身份证号码：{number}。")
    assert [h.kind for h in hits] == ["id_number"]
    assert hits[0].start == len("当事人身份证号码：") and hits[0].end == hits[0].start + 18
    assert number not in hits[0].excerpt and hits[0].excerpt.startswith(
        "110" if number[0] == "1" else "440"
    )


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "440308199901011235",  # wrong check digit
        "110105194913310021",  # month 13 (check digit right for these digits)
        "990105194912310021",  # no such province
        "110105299912310020",  # born in the future
    ],
)
def test_invalid_id_numbers_are_not_id_hits(number):
    if number == "110105194913310021":
        assert id_check_digit(number[:17]) == number[17]
    assert not is_valid_id_number(number)
    assert "id_number" not in kinds(f"编号{number}")


def test_id_number_inside_a_longer_number_is_not_a_hit():
    assert kinds(f"9{VALID_ID}") == []


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "(+86)13812345678",
        "0086-139-0000-1111",
        "１３８１２３４５６７８",  # full-width digits
        "021-58881234",
        "(021)58881234",
        "0755-8888 6666",
        "010 6512 3456",
    ],
)
def test_phone_formats(text):
    hits = scan(f"联系电话：{text}，")
    assert [h.kind for h in hits] == ["phone"], text
    assert (hits[0].start, hits[0].end) == (5, 5 + len(text))
    assert "****" in hits[0].excerpt


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "138123456789", "12345", "12315"])
def test_not_phones(text):
    assert kinds(f"号码{text}。") == []


def test_luhn():
    assert luhn_ok(CARD_19) and luhn_ok(CARD_16) and luhn_ok("79927398713")
    assert not luhn_ok("6228480402564890019")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    "text", [CARD_19, CARD_16, "6228 4804 0256 4890 018", "4111-1111-1111-1111"]
)
def test_bank_cards(text):
    hits = scan(f"收款账号{text}。")
    assert [h.kind for h in hits] == ["bank_card"]
    assert hits[0].excerpt[:4] == text[:4] and hits[0].excerpt.endswith(text[-3:])
    assert "*" in hits[0].excerpt


@pytest.mark.parametrize("text", ["6228480402564890019", "4111111111111112", "0000000000000000"])
def test_luhn_failures_are_not_cards(text):
    assert kinds(f"账号{text}") == []


@pytest.mark.parametrize(
    "text",
    [
        "上海市浦东新区张江路100号",
        "浙江省杭州市西湖区文三路90号3幢2单元501室",
        "北京市朝阳区建国路88号",
        "幸福小区3栋2单元501室",
        "某某县张家村三组",
        "广州市天河区天河北路233号中信广场5楼",
    ],
)
def test_addresses(text):
    hits = scan(f"当事人住{text}，")
    assert [h.kind for h in hits] == ["address"], text
    assert hits[0].start == len("当事人住")


def test_address_stops_at_function_words():
    hits = scan("经查，当事人住所地位于浙江省杭州市西湖区文三路90号。")
    assert len(hits) == 1
    assert hits[0].excerpt.startswith("浙江省杭州市")


@pytest.mark.parametrize(
    "text",
    [
        "沪市监罚〔2026〕12号",
        "沪市监浦处〔2026〕3101152026000123号",
        "京朝市监罚字[2026]第000123号",
        "2026-11-27",
        "2026年11月27日",
        "20261127",
        "罚款5000元",
        "罚款人民币50000.00元，没收违法所得1234567元",
        "依据《中华人民共和国行政处罚法》第二十八条第一款",
        "统一社会信用代码91310115MA1K3XXX0B",
        "统一社会信用代码913101157030000000",
        "执法证号31010020260001",
        "请拨打12345政务服务便民热线",
        "上海市浦东新区市场监督管理局",
    ],
)
def test_no_false_hits(text):
    assert scan(text) == [], text


def test_hits_name_field_line_and_column():
    hits = scan("第一行\n电话13812345678", field="body")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.field, hit.line, hit.column, hit.start) == ("body", 2, 3, 6)
    assert hit.excerpt == "138****5678"


def test_scan_fields_reports_each_field():
    hits = scan_fields({"title": "无证经营案", "body": f"身份证{VALID_ID}，电话13812345678"})
    assert [(h.field, h.kind) for h in hits] == [("body", "id_number"), ("body", "phone")]


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张某"),
        ("王小明", "王某"),
        ("欧阳修", "欧阳某"),
        ("司马相如", "司马某"),
        ("欧阳", "欧某"),  # two characters: surname 欧, given name 阳
        (" 李四 ", "李某"),
        ("", ""),
        ("John Smith", "某"),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_redact_text_masks_every_name_longest_first():
    text = "张三与张三丰、欧阳娜娜共同经营，张三在场。"
    assert (
        redact_text(text, ["张三", "张三丰", "欧阳娜娜"])
        == "张某与张某、欧阳某共同经营，张某在场。"
    )
    assert redact_text(text, []) == text
    assert redact_text("张三在场", ["张"]) == "张三在场"  # one character is not a name
