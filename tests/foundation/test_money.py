"""Money in the kernel: Decimal to the cent, shares that add up exactly, the currency shown."""

from decimal import Decimal
from fractions import Fraction

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from core.money import allocate, format_money, to_money, whole_percentages

NBSP = "\u00a0"


def test_a_thousand_over_three_adds_up_to_the_thousand():
    parts = allocate(Decimal("1000.00"), [1, 1, 1])

    assert parts == [Decimal("333.34"), Decimal("333.33"), Decimal("333.33")]
    assert sum(parts) == Decimal("1000.00")


def test_the_left_over_cent_goes_to_the_part_that_lost_most_to_rounding():
    # Exact shares 0.0033…, 0.0066…: rounded down both are 0.00; the larger loss gets the cent.
    assert allocate(Decimal("0.01"), [1, 2]) == [Decimal("0.00"), Decimal("0.01")]


def test_a_zero_weight_gets_nothing_and_all_zero_weights_share_only_zero():
    assert allocate(Decimal("10.00"), [0, 1, 0]) == [
        Decimal("0.00"),
        Decimal("10.00"),
        Decimal("0.00"),
    ]
    assert allocate(Decimal("0"), [0, 0]) == [Decimal("0.00"), Decimal("0.00")]
    with pytest.raises(ValueError, match="every weight is zero"):
        allocate(Decimal("5.00"), [0, 0])


def test_allocate_refuses_floats_negative_weights_and_fractions_of_a_cent():
    with pytest.raises(TypeError):
        allocate(1000.0, [1, 2])
    with pytest.raises(TypeError):
        allocate(Decimal("1000"), [0.5, 0.5])
    with pytest.raises(ValueError, match="negative"):
        allocate(Decimal("1000"), [1, -1])
    with pytest.raises(ValueError, match="whole number"):
        allocate(Decimal("0.005"), [1, 1])


_cents = st.integers(min_value=0, max_value=10**14)
_weights = st.lists(
    st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
).filter(any)


@given(cents=_cents, weights=_weights)
def test_allocated_parts_always_sum_to_the_total_and_stay_within_a_cent_of_their_share(
    cents, weights
):
    total = Decimal(cents) / 100

    parts = allocate(total, weights)

    assert sum(parts) == total
    whole = sum(Fraction(w) for w in weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part == part.quantize(Decimal("0.01"))
        exact = Fraction(total) * Fraction(weight) / whole
        assert abs(Fraction(part) - exact) < Fraction(1, 100)


@given(amounts=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=20))
def test_whole_percentages_of_parts_of_a_whole_add_up_to_100(amounts):
    percentages = whole_percentages(amounts)

    assert sum(percentages) == (100 if any(amounts) else 0)
    assert all(0 <= p <= 100 for p in percentages)


def test_whole_percentages_of_three_equal_parts_are_34_33_33():
    assert whole_percentages([Decimal("1"), Decimal("1"), Decimal("1")]) == [34, 33, 33]


def test_to_money_rounds_half_up_to_the_cent_and_refuses_floats():
    assert to_money("2.345") == Decimal("2.35")
    assert to_money(None) == Decimal("0.00")
    assert str(to_money("-0.001")) == "0.00"  # no "-0.00"
    with pytest.raises(TypeError):
        to_money(0.1)


def test_format_money_shows_the_code_thousands_separators_and_cents(settings):
    settings.CURRENCY = "EUR"

    assert format_money(Decimal("1234567.5")) == f"EUR{NBSP}1,234,567.50"
    assert format_money(0) == f"EUR{NBSP}0.00"
    assert format_money(Decimal("999.99"), "USD") == f"USD{NBSP}999.99"


def _render_money(value):
    return Template("{% load ui %}{{ value|money }}").render(Context({"value": value}))


def test_the_money_filter_shows_the_configured_currency_on_every_amount(settings):
    settings.CURRENCY = "CHF"

    assert _render_money(Decimal("333.33")) == f"CHF{NBSP}333.33"
    assert _render_money("1000") == f"CHF{NBSP}1,000.00"
    assert _render_money(0) == f"CHF{NBSP}0.00"


def test_the_money_filter_shows_a_dash_for_nothing_and_never_fails(settings):
    settings.CURRENCY = "EUR"

    assert _render_money(None) == "—"
    assert _render_money("") == "—"
    assert _render_money("not a number") == "not a number"
    assert _render_money("NaN") == "NaN"
