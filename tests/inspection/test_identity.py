import random
import re
import time
from datetime import date

import pytest

from inspection.identity import (
    ID_TYPES,
    IdType,
    InvalidIdentity,
    birth_date_problem,
    credit_code_check_char,
    gb11643_check_char,
    mask_id_no,
    mask_phone,
    normalise_id_no,
    normalise_phone,
    normalise_text,
    parse_id_type,
    resident_id_birth_date,
    validate_credit_code,
    validate_id_no,
)
from models.errors import DomainError

TODAY = date(2025, 6, 1)


def reference_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 written the other way round: weights 2^(17-i) mod 11, check (12 - S) mod 11."""
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def assert_no_number_in(exc: pytest.ExceptionInfo[InvalidIdentity], number: str) -> None:
    message = str(exc.value)
    assert message
    assert number not in message
    assert not re.search(r"\d{7,}", message), message


def test_id_types_follow_the_product_contract_in_order():
    assert list(ID_TYPES) == [
        "RESIDENT_ID",
        "TEMP_RESIDENT_ID",
        "HK_MO_PERMIT",
        "TW_PERMIT",
        "HMT_RESIDENCE",
        "FOREIGN_PERMANENT",
        "PASSPORT",
        "MILITARY",
        "POLICE",
        "CREDIT_CODE",
        "OTHER",
    ]
    assert ID_TYPES["RESIDENT_ID"] == IdType("RESIDENT_ID", "居民身份证", ID_TYPES["RESIDENT_ID"].name_en)
    assert ID_TYPES["OTHER"].name_zh == "其他"
    assert all(t.code == code and t.name_en for code, t in ID_TYPES.items())


def test_invalid_identity_is_a_value_error_and_a_domain_error():
    assert issubclass(InvalidIdentity, ValueError) and issubclass(InvalidIdentity, DomainError)
    assert InvalidIdentity("validation_error.id_check_digit").api_code == "validation_error"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１２３ＡＢＣ", "123ABC"),
        ("  张\u3000 三\t\n ", "张 三"),
        ("a    b", "a b"),
        ("", ""),
    ],
)
def test_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("  \u3000", None),
        ("RESIDENT_ID", "RESIDENT_ID"),
        ("resident_id", "RESIDENT_ID"),
        (" 居民身份证 ", "RESIDENT_ID"),
        ("港澳居民来往内地通行证", "HK_MO_PERMIT"),
        ("外国人永久居留身份证", "FOREIGN_PERMANENT"),
        ("ＰＡＳＳＰＯＲＴ", "PASSPORT"),
        ("护照", "PASSPORT"),
        ("其他", "OTHER"),
    ],
)
def test_parse_id_type(raw, expected):
    assert parse_id_type(raw) == expected


@pytest.mark.parametrize("raw", ["驾驶证", "DRIVER_LICENSE", "RESIDENT", "学生证"])
def test_parse_id_type_rejects_unknown_types(raw):
    with pytest.raises(InvalidIdentity) as exc:
        parse_id_type(raw)
    assert exc.value.code == "validation_error.unknown_id_type"


def test_normalise_id_no_handles_full_width_spaces_and_lower_case_x():
    assert normalise_id_no("１１０１０５ １９４９１２３１ ００２ｘ") == "11010519491231002X"
    assert normalise_id_no(" 11010519491231002x\t") == "11010519491231002X"


def test_gb11643_check_char_known_example():
    assert gb11643_check_char("11010519491231002") == "X"


def test_gb11643_check_char_matches_an_independent_formulation():
    rng = random.Random(42)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert gb11643_check_char(body) == reference_check_char(body)


@pytest.mark.parametrize("body", ["1101051949123100", "110105194912310021", "1101051949123100A", "１１０１０５１９４９１２３１００２"])
def test_gb11643_check_char_needs_17_ascii_digits(body):
    with pytest.raises(InvalidIdentity):
        gb11643_check_char(body)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("110105 19491231 002X", "11010519491231002X"),
        ("150102199003071237", "150102199003071237"),
        ("150102200002290011", "150102200002290011"),
        ("110105199506150086", "110105199506150086"),
        ("810000199001010019", "810000199001010019"),
    ],
)
@pytest.mark.parametrize("id_type", ["RESIDENT_ID", "TEMP_RESIDENT_ID"])
def test_valid_resident_ids(id_type, raw, expected):
    assert validate_id_no(id_type, raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("110105194912310021", "id_check_digit"),
        ("150102199003071238", "id_check_digit"),
        ("110105194902300012", "id_birth_date_impossible"),
        ("150102190002290015", "id_birth_date_impossible"),
        ("150102184912310010", "id_birth_date_impossible"),
        ("150102201901010014", "id_birth_date_future"),
        ("990102199003071233", "id_province"),
        ("15010219900307123", "id_gb11643_shape"),
        ("1501021990030712377", "id_gb11643_shape"),
        ("15010219900307123Y", "id_gb11643_shape"),
        ("1501021990O3071237", "id_gb11643_shape"),
    ],
)
def test_invalid_resident_ids_say_why_without_the_number(number, problem):
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no("RESIDENT_ID", number, today=date(2018, 12, 31))
    assert exc.value.code == f"validation_error.{problem}"
    assert_no_number_in(exc, number)


def test_birth_date_today_is_accepted_and_tomorrow_is_not():
    assert validate_id_no("RESIDENT_ID", "150102201901010014", today=date(2019, 1, 1))
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no("RESIDENT_ID", "150102201901010014", today=date(2018, 12, 31))
    assert exc.value.code == "validation_error.id_birth_date_future"


def test_validate_id_no_defaults_to_the_real_today():
    assert validate_id_no("RESIDENT_ID", "11010519491231002X") == "11010519491231002X"


@pytest.mark.parametrize("number", ["810000199001010019", "820000198512120022", "830000200106150033"])
def test_valid_hmt_residence_permits(number):
    assert validate_id_no("HMT_RESIDENCE", number, today=TODAY) == number


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", "810000199001010010", "810000199002300010", "81000019900101001"],
)
def test_invalid_hmt_residence_permits(number):
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no("HMT_RESIDENCE", number, today=TODAY)
    assert_no_number_in(exc, number)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("915496199001010011", "915496199001010011"),
        ("911840198512310026", "911840198512310026"),
        ("USA110090123456", "USA110090123456"),
        ("mng 150850101001", "MNG150850101001"),
    ],
)
def test_valid_foreign_permanent_ids(raw, expected):
    assert validate_id_no("FOREIGN_PERMANENT", raw, today=TODAY) == expected


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002X",  # valid resident ID, but must start with 9
        "915496199001010012",  # check digit
        "915496199002300010",  # 30 February with a correct check digit
        "US1110090123456",
        "USA11009012345",
        "USA1100901234567",
    ],
)
def test_invalid_foreign_permanent_ids(number):
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no("FOREIGN_PERMANENT", number, today=TODAY)
    assert_no_number_in(exc, number)


@pytest.mark.parametrize(
    ("id_type", "raw", "expected"),
    [
        ("HK_MO_PERMIT", "H12345678", "H12345678"),
        ("HK_MO_PERMIT", "m1234567890", "M1234567890"),
        ("HK_MO_PERMIT", "Ｈ１２３４５６７８", "H12345678"),
        ("TW_PERMIT", "12345678", "12345678"),
        ("PASSPORT", "E12345678", "E12345678"),
        ("PASSPORT", "ea 1234567", "EA1234567"),
        ("PASSPORT", "G1234", "G1234"),
        ("MILITARY", "JG12345678", "JG12345678"),
        ("POLICE", "WJ12345678", "WJ12345678"),
        ("MILITARY", "军字第1234567号", "军字第1234567号"),
        ("MILITARY", "士12345678", "士12345678"),
        ("MILITARY", "文职字第 0012345 号", "文职字第0012345号"),
        ("MILITARY", "兵字第１２３４５６７号", "兵字第1234567号"),
        ("POLICE", "武警1234567", "武警1234567"),
        ("POLICE", "武警字第2020001号", "武警字第2020001号"),
        ("POLICE", "警字第2020001号", "警字第2020001号"),
        ("CREDIT_CODE", "9144030071526726xg", "9144030071526726XG"),  # 腾讯科技（深圳）有限公司
        ("CREDIT_CODE", "91330100716105852F", "91330100716105852F"),  # 阿里巴巴（中国）有限公司
        ("OTHER", "A" * 32, "A" * 32),
    ],
)
def test_valid_other_documents(id_type, raw, expected):
    assert validate_id_no(id_type, raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("id_type", "number"),
    [
        ("HK_MO_PERMIT", "H1234567"),
        ("HK_MO_PERMIT", "H123456789"),
        ("HK_MO_PERMIT", "X12345678"),
        ("HK_MO_PERMIT", "12345678"),
        ("TW_PERMIT", "1234567"),
        ("TW_PERMIT", "123456789"),
        ("TW_PERMIT", "A1234567"),
        ("PASSPORT", "E12"),
        ("PASSPORT", "E" * 33),
        ("PASSPORT", "E1234-5678"),
        ("MILITARY", "南字第12345678号"),
        ("MILITARY", "军字第号"),
        ("MILITARY", "军字第123号"),
        ("POLICE", "WJ_12345678"),
        ("POLICE", "警察1234567"),
        ("CREDIT_CODE", "9144030071526726XH"),  # one check character off
        ("CREDIT_CODE", "91330100716105852"),
        ("CREDIT_CODE", "91330100716105852I"),
    ],
)
def test_invalid_other_documents(id_type, number):
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no(id_type, number, today=TODAY)
    assert number not in str(exc.value)


def test_validate_id_no_accepts_a_chinese_type_name():
    assert validate_id_no("居民身份证", "11010519491231002x", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    ("id_type", "number"), [("RESIDENT_ID", ""), ("RESIDENT_ID", "  "), ("", "11010519491231002X")]
)
def test_validate_id_no_rejects_missing_parts(id_type, number):
    with pytest.raises(InvalidIdentity):
        validate_id_no(id_type, number, today=TODAY)


def test_validate_id_no_rejects_unknown_types_without_the_number():
    with pytest.raises(InvalidIdentity) as exc:
        validate_id_no("驾驶证", "11010519491231002X", today=TODAY)
    assert exc.value.code == "validation_error.unknown_id_type"
    assert_no_number_in(exc, "11010519491231002X")


def test_validate_id_no_is_fast():
    numbers = ["11010519491231002X", "150102199003071237", "H12345678", "E12345678"] * 5000
    types = ["RESIDENT_ID", "RESIDENT_ID", "HK_MO_PERMIT", "PASSPORT"] * 5000
    started = time.perf_counter()
    for id_type, number in zip(types, numbers):
        validate_id_no(id_type, number)
    assert time.perf_counter() - started < 1.0


def test_resident_id_birth_date():
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert resident_id_birth_date("150102200002290011") == date(2000, 2, 29)
    assert resident_id_birth_date("150102190002290015") is None
    assert resident_id_birth_date("110105194902300012") is None
    assert resident_id_birth_date("1101051949123100") is None
    assert resident_id_birth_date("110105ABCDEFGH002X") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("(138) 1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0086-13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("0471-6212345", "04716212345"),
        ("(0471) 621 2345", "04716212345"),
        ("95338", "95338"),
        ("+976 9911 2233", "+97699112233"),
        ("001 212 555 0100", "+12125550100"),
        ("+86 471 6212345", "+864716212345"),
    ],
)
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12812345678",  # 12x is not a mobile range
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "+86 12812345678",
        "0086 1381234567",
        "138abc45678",
        "138.1234.5678",
        "13812345678+",
        "1234",
        "+1234",
        "2" * 21,
    ],
)
def test_normalise_phone_rejects_without_echoing_the_number(raw):
    with pytest.raises(InvalidIdentity) as exc:
        normalise_phone(raw)
    assert not re.search(r"\d{4,}", str(exc.value))


def test_known_credit_code_validates():
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert validate_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert validate_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_credit_check_char_zero_when_sum_is_a_multiple_of_31():
    rng = random.Random(3)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    seen_zero = False
    for _ in range(3000):
        area = "".join(rng.choice("0123456789") for _ in range(6))
        body = "91" + area + "".join(rng.choice(alphabet) for _ in range(9))
        check = credit_code_check_char(body)
        assert check in alphabet
        assert validate_credit_code(body + check) == body + check
        seen_zero |= check == "0"
    assert seen_zero


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("91350100M000100Y44", "credit_code_check"),
        ("91350100M000100Y4", "credit_code_shape"),
        ("91350100M000100Y433", "credit_code_shape"),
        ("91350100I000100Y43", "credit_code_shape"),
        ("91350100O000100Y43", "credit_code_shape"),
        ("9135010SM000100Y43", "credit_code_shape"),
        ("", "credit_code_empty"),
    ],
)
def test_invalid_credit_codes(code, problem):
    with pytest.raises(InvalidIdentity) as exc:
        validate_credit_code(code)
    assert exc.value.code == f"validation_error.{problem}"
    if code:
        assert code not in str(exc.value)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("150102199003071237", "1501**********1237"),
        ("11010519491231002X", "1101**********002X"),
        ("USA110090123456", "US***********56"),
        ("H12345678", "H1*****78"),
        ("12345678", "********"),
        ("E12", "***"),
        ("", ""),
    ],
)
def test_mask_id_no(number, masked):
    assert mask_id_no(number) == masked


def test_masked_ids_never_reveal_more_than_half():
    rng = random.Random(5)
    for length in range(1, 40):
        number = "".join(rng.choice("0123456789") for _ in range(length))
        masked = mask_id_no(number)
        assert len(masked) == length
        assert sum(c != "*" for c in masked) <= length // 2
        assert masked != number


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("04716212345", "047******45"),
        ("+97699112233", "+97*******33"),
        ("95338", "*****"),
        ("", ""),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_masked_phones_never_equal_the_number():
    for phone in ["13812345678", "0471621234", "04716212345", "+8647162123456", "123456789"]:
        masked = mask_phone(phone)
        assert masked != phone and "*" in masked and len(masked) == len(phone)


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("150102199003071237", None),
        ("11010519491231002X", None),
        ("H12345678", None),
        ("150102203001010011", "future birth date"),
        ("150102189001010011", "age over 120"),
        ("150102202201010011", "age under 6"),
        ("110105194902300012", "impossible birth date"),
    ],
)
def test_birth_date_problem(number, problem):
    assert birth_date_problem(number, TODAY) == problem


def test_birth_date_problem_age_boundaries():
    hundred_and_twenty = "150102190506010011"
    assert birth_date_problem(hundred_and_twenty, date(2025, 6, 1)) is None
    assert birth_date_problem(hundred_and_twenty, date(2026, 6, 1)) == "age over 120"
    assert birth_date_problem(hundred_and_twenty, date(2026, 5, 31)) is None
    six = "150102201906010011"
    assert birth_date_problem(six, date(2025, 6, 1)) is None
    assert birth_date_problem(six, date(2025, 5, 31)) == "age under 6"
