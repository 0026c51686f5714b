"""Money: `Decimal` amounts in the one currency of the deployment (settings.CURRENCY, an
ISO 4217 code), shares that add up exactly (largest remainder), and one way to show them.

Every amount is kept to the cent: two decimal places, whatever the currency. That is the
precision of the budget columns; for the few currencies with another minor unit (JPY has
none, BHD three) amounts still show two places. No float is used anywhere: a float handed
to `to_money` is refused, so one that creeps in fails a test instead of losing a cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings

MINOR_UNIT = Decimal("0.01")
# Between the code and the figure: a no-break space, so "EUR" never ends a line alone.
_SEPARATOR = "\u00a0"


def currency() -> str:
    """The deployment's currency code (settings.CURRENCY, e.g. "EUR"); read when asked, not at
    import, so tests and settings overrides see the current value."""
    return str(settings.CURRENCY)


def to_money(value: Any) -> Decimal:
    """`value` (Decimal, int or a numeric string; None is zero) rounded half up to the cent.
    A float is refused: it would carry binary noise into the cents."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, float | bool):
        raise TypeError(f"Money must not be a {type(value).__name__}: {value!r}.")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"Money must be a finite number, not {value!r}.")
    amount = amount.quantize(MINOR_UNIT, rounding=ROUND_HALF_UP)
    return amount + 0  # turns -0.00 into 0.00


def allocate(total: Any, weights: Sequence[Any], *, unit: Decimal = MINOR_UNIT) -> list[Decimal]:
    """`total` shared out in proportion to `weights` (largest remainder): each part is a whole
    number of `unit`s, the parts add up to `total` exactly, and each lies within one unit of
    its exact share. Every part first gets its exact share rounded down; the units left over
    go one each to the parts that lost the most, ties to the earlier part.

    `total` must be a whole number of units; weights are Decimals or ints, none negative.
    All-zero weights share nothing: a zero total gives zeros, any other total is an error."""
    if isinstance(total, float) or any(isinstance(weight, float) for weight in weights):
        raise TypeError("allocate() takes Decimals or ints, not floats.")
    units = Fraction(Decimal(total)) / Fraction(unit)
    if units.denominator != 1:
        raise ValueError(f"{total} is not a whole number of {unit}.")
    exact_weights = [Fraction(Decimal(weight)) for weight in weights]
    if any(weight < 0 for weight in exact_weights):
        raise ValueError("Weights cannot be negative.")
    whole = sum(exact_weights, Fraction(0))
    if not whole:
        if units:
            raise ValueError("Nothing to share by: every weight is zero.")
        return [Decimal(0) * unit for _ in weights]
    exact = [units * weight / whole for weight in exact_weights]
    parts = [share.numerator // share.denominator for share in exact]
    left = int(units) - sum(parts)
    # Fractions lost to rounding down, largest first; the sort is stable, so ties keep order.
    by_loss = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_loss[:left]:
        parts[i] += 1
    return [Decimal(part) * unit for part in parts]


def whole_percentages(amounts: Sequence[Any]) -> list[int]:
    """Each amount's share of their sum in whole percent, adding up to exactly 100 (largest
    remainder); all zeros when the sum is zero."""
    if not any(amounts):
        return [0 for _ in amounts]
    return [int(part) for part in allocate(100, amounts, unit=Decimal(1))]


def format_money(value: Any, code: str | None = None) -> str:
    """1234567.5 → "EUR 1,234,567.50": the currency code, a no-break space, the amount to the
    cent with thousands separators."""
    amount = to_money(value)
    return f"{code or currency()}{_SEPARATOR}{amount:,.2f}"
