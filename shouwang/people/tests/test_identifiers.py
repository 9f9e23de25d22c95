import datetime as dt

import pytest

from shouwang.core.errors import ValidationFailed
from shouwang.people.identifiers import check_character, make_resident_id, normalize_mobile, parse_resident_id

TODAY = dt.date(2022, 4, 15)


@pytest.mark.parametrize(
    ("number", "birth", "sex"),
    [
        # The two examples printed in GB 11643-1999.
        ("11010519491231002X", dt.date(1949, 12, 31), "female"),
        ("440524188001010014", dt.date(1880, 1, 1), "male"),
    ],
)
def test_given_the_standards_examples_when_parsed_then_valid_with_birth_and_sex(number, birth, sex):
    rid = parse_resident_id(number, today=TODAY)
    assert (rid.number, rid.birth_date, rid.sex, rid.area_code) == (number, birth, sex, number[:6])


def test_lower_case_x_and_spaces_are_accepted():
    assert parse_resident_id(" 11010519491231002x ", today=TODAY).number == "11010519491231002X"


def test_check_character_of_the_standards_example():
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"


def _reject(number: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        parse_resident_id(number, today=TODAY)
    return info.value


@pytest.mark.parametrize(
    ("number", "code", "zh", "en"),
    [
        ("11010519491231002", "id_number_format", "身份证号应为18位，前17位是数字，最后一位是数字或X",
         "ID number must be 18 characters: 17 digits and a digit or X"),
        ("1101051949123100XX", "id_number_format", "身份证号应为18位，前17位是数字，最后一位是数字或X",
         "ID number must be 18 characters: 17 digits and a digit or X"),
        ("110105194912310021", "id_number_checksum", "身份证号校验位错误（应为X）",
         "ID number check character is wrong (expected X)"),
        ("110105194902300020", "id_number_birth_date", "身份证号中的出生日期19490230不是真实日期",
         "ID number has a birth date 19490230 that is not a real date"),
        ("110105202301010010", "id_number_birth_date", "身份证号中的出生日期2023-01-01不可能",
         "ID number has an impossible birth date 2023-01-01"),
        ("999999198001010014", "id_number_area_code", "身份证号中的地区码999999不是有效的行政区划代码",
         "ID number has an area code 999999 that is not a GB/T 2260 code"),
    ],
)
def test_given_a_bad_number_when_parsed_then_the_reason_is_named_in_both_languages(number, code, zh, en):
    if code not in ("id_number_format", "id_number_birth_date"):
        number = number[:17] + check_character(number[:17]) if code != "id_number_checksum" else number
    err = _reject(number)
    assert (err.code, err.field, err.message_zh, err.message_en) == (code, "id_number", zh, en)


def test_old_fushan_code_142629_is_valid_for_people_born_before_2000():
    rid = parse_resident_id(make_resident_id("142629", dt.date(1968, 5, 2), 13), today=TODAY)
    assert rid.area_code == "142629"
    assert rid.sex == "male"


def test_old_fushan_code_142629_is_refused_for_someone_born_after_it_was_abolished():
    err = _reject(make_resident_id("142629", dt.date(2005, 5, 2), 14))
    assert err.code == "id_number_area_code"
    assert err.message_zh == "身份证号中的地区码142629在1999年已撤销，不可能发给2005年出生的人"


def test_current_fushan_code_is_valid_for_an_older_person_who_renewed_their_card():
    assert parse_resident_id(make_resident_id("141027", dt.date(1950, 1, 1), 2), today=TODAY).sex == "female"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("0086-19912345678", "19912345678")],
)
def test_mobile_numbers_are_normalised(raw, expected):
    assert normalize_mobile(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code", "zh"),
    [
        ("1381234567", "mobile_format", "手机号应为11位数字"),
        ("2381234567a", "mobile_format", "手机号应为11位数字"),
        ("12012345678", "mobile_prefix", "手机号号段120不存在"),
        ("14012345678", "mobile_prefix", "手机号号段140不存在"),
    ],
)
def test_bad_mobiles_are_refused_with_the_reason(raw, code, zh):
    with pytest.raises(ValidationFailed) as info:
        normalize_mobile(raw)
    assert (info.value.code, info.value.field, info.value.message_zh) == (code, "mobile", zh)
