"""Month ranges within the platform's limits, and conditions declared as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.flows.model import DefinitionError
from kiosk.flows.periods import (
    Limits,
    PeriodError,
    check_range,
    month_index,
    month_text,
    preset_period,
    year_period,
)
from kiosk.flows.steps.conditions import check_condition, holds

LIM = Limits.parse({"earliest": "2019-03", "latest": "2025-05", "max_months": 36})


def test_month_round_trip_and_bad_months() -> None:
    assert month_text(month_index("2024-12")) == "2024-12"
    for bad in ("2024-13", "2024-00", "24-01", "2024/01", ""):
        with pytest.raises(PeriodError) as err:
            month_index(bad)
        assert err.value.key == "period.bad_month"


def test_limits_parse_rejects_nonsense() -> None:
    with pytest.raises(PeriodError, match=r"period\.no_limits"):
        Limits.parse({"earliest": "2019-01"})
    with pytest.raises(PeriodError, match=r"period\.nothing_available"):
        Limits.parse({"earliest": "2020-01", "latest": "2019-01"})
    assert LIM.years() == [2025, 2024, 2023, 2022, 2021, 2020, 2019]


def test_years_are_clamped_to_the_allowed_months() -> None:
    p = year_period(2019, LIM)
    assert (month_text(p.start), month_text(p.end)) == ("2019-03", "2019-12")
    p = year_period(2025, LIM)
    assert (month_text(p.start), month_text(p.end)) == ("2025-01", "2025-05")
    with pytest.raises(PeriodError, match=r"period\.year_unavailable"):
        year_period(2018, LIM)
    assert year_period(2024, LIM).as_data("year")["label"].startswith("2024年度")


def test_presets_never_exceed_the_limits() -> None:
    p = preset_period("last_12", LIM)
    assert (month_text(p.start), month_text(p.end), p.months) == ("2024-06", "2025-05", 12)
    assert preset_period("last_36", Limits.parse({"earliest": "2024-01", "latest": "2025-05",
                                                  "max_months": 12})).months == 12
    assert month_text(preset_period("last_year", LIM).start) == "2024-01"
    with pytest.raises(PeriodError):
        preset_period("forever", LIM)


def test_check_range_says_what_to_change() -> None:
    assert check_range("2024-01", "2024-12", LIM).months == 12
    cases = [(("2024-05", "2024-01"), "period.start_after_end"),
             (("2019-01", "2019-06"), "period.outside_limits"),
             (("2025-01", "2025-06"), "period.outside_limits"),
             (("2020-01", "2023-12"), "period.too_long")]
    for (start, end), key in cases:
        with pytest.raises(PeriodError) as err:
            check_range(start, end, LIM)
        assert err.value.key == key


@given(st.integers(0, 120), st.integers(0, 120))
def test_any_accepted_range_is_within_limits(a: int, b: int) -> None:
    start, end = month_text(LIM.earliest - 10 + a), month_text(LIM.earliest - 10 + b)
    try:
        p = check_range(start, end, LIM)
    except PeriodError:
        return
    assert LIM.earliest <= p.start <= p.end <= LIM.latest and p.months <= LIM.max_months


DATA = {"checkin": {"status": "early", "appointment": {"walk_in": True}},
        "record": {"count": 0, "rows": []}, "kind": "payment_detail"}


@pytest.mark.parametrize("cond,expected", [
    ({"path": "checkin.status", "equals": "early"}, True),
    ({"path": "checkin.status", "not_equals": "early"}, False),
    ({"path": "checkin.status", "in": ["late", "early"]}, True),
    ({"path": "checkin.appointment.walk_in", "equals": True}, True),
    ({"path": "record.count", "equals": 0}, True),
    ({"path": "record.count", "gt": 0}, False),
    ({"path": "record.rows", "empty": True}, True),
    ({"path": "checkin.nothing", "exists": False}, True),
    ({"path": "checkin.nothing", "equals": 1}, False),
    ({"path": "checkin.nothing", "not_equals": 1}, True),
    ({"all": [{"path": "kind", "equals": "payment_detail"},
              {"path": "record.count", "le": 0}]}, True),
    ({"any": [{"path": "kind", "equals": "x"}, {"path": "kind", "equals": "y"}]}, False),
])
def test_conditions(cond: dict, expected: bool) -> None:
    check_condition(cond, "f.toml", "when")
    assert holds(cond, DATA) is expected


@pytest.mark.parametrize("cond,problem", [
    ("early", "must be a table"),
    ({"equals": 1}, "is required"),
    ({"path": "a", "equals": 1, "in": [1]}, "exactly one test"),
    ({"path": "a", "matches": "x"}, "exactly one test"),
    ({"path": "a", "in": "x"}, "must be a list"),
    ({"path": "a", "gt": "3"}, "must be a number"),
    ({"all": []}, "non-empty list"),
])
def test_bad_conditions_are_rejected(cond: object, problem: str) -> None:
    with pytest.raises(DefinitionError) as err:
        check_condition(cond, "flows/x.toml", "steps[2].cases[0].when")
    assert problem in err.value.problem
