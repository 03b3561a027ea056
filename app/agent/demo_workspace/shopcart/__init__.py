"""shopcart: prices, bulk discounts and order totals."""

from shopcart.pricing import bulk_discount, line_total, order_total

__all__ = ["bulk_discount", "line_total", "order_total"]
