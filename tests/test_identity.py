from __future__ import annotations

import logging

import pytest

from kiosk.identity import (
    Identity,
    IdentitySource,
    MaskingFilter,
    gb11643_check_digit,
    is_valid_id_number,
    mask_id_number,
    mask_name,
    scrub_text,
)
from synthetic.citizens import CITIZENS

# Check digits computed by hand from the GB 11643-1999 weights
# (7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2).
VECTORS = [
    ("11010519491231002", "X"),  # the standard's own worked example
    ("44052418800101001", "4"),
    ("44190019850314362", "7"),
]


@pytest.mark.parametrize("first17,check", VECTORS)
def test_check_digit(first17: str, check: str) -> None:
    assert gb11643_check_digit(first17) == check
    assert is_valid_id_number(first17 + check)


def test_invalid_numbers_are_rejected() -> None:
    assert not is_valid_id_number("110105194912310021")  # wrong check digit
    assert not is_valid_id_number("11010519491231002")  # too short
    assert not is_valid_id_number("1101051949123100AX")
    with pytest.raises(ValueError):
        gb11643_check_digit("123")


def test_synthetic_citizens_have_valid_numbers_and_matching_gender() -> None:
    for c in CITIZENS:
        assert is_valid_id_number(c.id_number)
        assert int(c.id_number[16]) % 2 == (1 if c.gender == "1" else 0)


def test_masking() -> None:
    assert mask_id_number("441900198503143627") == "4419**********3627"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number("") == "" and mask_name(None) == ""
    assert mask_id_number("1234") == "****"


def test_identity_repr_never_shows_full_data() -> None:
    ident = Identity(IdentitySource.ID_CARD, "441900198503143627", "陈晓梅")
    for text in (repr(ident), str(ident), f"{ident}"):
        assert "441900198503143627" not in text and "陈晓梅" not in text
        assert "4419**********3627" in text


def test_scrub_text_and_log_filter(caplog: pytest.LogCaptureFixture) -> None:
    assert scrub_text("id=441900198503143627;") == "id=4419**********3627;"
    assert scrub_text("order 12345678901234567890") == "order 12345678901234567890"
    logger = logging.getLogger("test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        logger.info("reading %s", "44190019850314362X")
    assert "44190019850314362X" not in caplog.text
    assert "4419**********362X" in caplog.text


def test_expiry_counts_the_last_valid_day_and_long_term_never_expires() -> None:
    from datetime import date

    from synthetic.citizens import BY_KEY, identity_of

    zhou, li = identity_of(BY_KEY["zhou"]), identity_of(BY_KEY["li"])  # li: 长期
    assert zhou.valid_to == date(2024, 8, 16)
    assert not zhou.expired(date(2024, 8, 16)) and zhou.expired(date(2024, 8, 17))
    assert li.valid_to is None and not li.expired(date(2099, 1, 1))


def _chen() -> Identity:
    from datetime import date

    return Identity(IdentitySource.ID_CARD, "441900198503143627", "陈晓梅",
                    birth_date=date(1985, 3, 14), address="东莞市莞城街道某路1号",
                    english_name="CHEN XIAOMEI", card_number="A12345678")


def test_the_view_masks_by_default_even_when_asked_for_full() -> None:
    view = _chen().view()
    assert (view["id_number"], view["name"]) == ("4419**********3627", "陈**")
    assert (view.id_number, view.name, view.source) == ("4419**********3627", "陈**", "id_card")
    assert view["english_name"] == "C*** X******" and view["card_number"] == "A123*5678"
    assert view["full"]["id_number"] == "4419**********3627" and view.full.name == "陈**"
    for hidden in ("address", "birth_date"):  # no useful masked form: not there at all
        assert hidden not in view and hidden not in view.full
    everything = repr(dict(view)) + repr(dict(view.full)) + repr(view) + str(view.full)
    for secret in ("441900198503143627", "陈晓梅", "CHEN XIAOMEI", "东莞市", "1985-03-14"):
        assert secret not in everything


def test_a_revealed_view_gives_real_values_only_under_full() -> None:
    view = _chen().view(reveal=True)
    assert view["id_number"] == "4419**********3627" and view["name"] == "陈**"
    full = view["full"]
    assert (full["id_number"], full["name"], full["address"], full["birth_date"]) == (
        "441900198503143627", "陈晓梅", "东莞市莞城街道某路1号", "1985-03-14")
    assert "441900198503143627" not in repr(full)  # a slip into a log stays masked


def test_the_session_holds_identities_once_and_wipe_drops_them() -> None:
    from kiosk.session import Session

    session = Session()
    session.set_identity(_chen())
    session.set_companion("spouse", Identity(IdentitySource.ID_CARD, "441900198309214153",
                                             "黄志强"))
    with pytest.raises(ValueError):
        session.set_companion("identity", _chen())
    views = session.views()
    assert sorted(views) == ["identity", "spouse"] and views["spouse"].name == "黄**"
    assert session.views(reveal=True)["spouse"].full.id_number == "441900198309214153"
    assert session.data == {}  # nothing copied into flow data
    session.wipe()
    assert session.identity is None and session.companions == {} and session.views() == {}
