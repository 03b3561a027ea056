"""Prices are integers in cents; discounts are fractions of a line's price."""

from __future__ import annotations


def bulk_discount(quantity: int) -> float:
    """10% off from 10 items, 20% off from 50 items."""
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    if quantity > 50:
        return 0.20
    if quantity > 10:
        return 0.10
    return 0.0


def line_total(unit_cents: int, quantity: int) -> int:
    """One order line after its bulk discount, rounded to the nearest cent."""
    gross = unit_cents * quantity
    return round(gross * (1 - bulk_discount(quantity)))


def order_total(lines: list[tuple[int, int]]) -> int:
    """Sum of (unit_cents, quantity) lines."""
    return sum(line_total(unit, qty) for unit, qty in lines)
