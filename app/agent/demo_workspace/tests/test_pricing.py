import unittest

from shopcart import bulk_discount, line_total, order_total


class BulkDiscountTest(unittest.TestCase):
    def test_no_discount_below_ten(self) -> None:
        self.assertEqual(bulk_discount(9), 0.0)

    def test_ten_percent_from_ten_items(self) -> None:
        self.assertEqual(bulk_discount(10), 0.10)

    def test_twenty_percent_from_fifty_items(self) -> None:
        self.assertEqual(bulk_discount(50), 0.20)

    def test_negative_quantity_is_an_error(self) -> None:
        with self.assertRaises(ValueError):
            bulk_discount(-1)


class TotalsTest(unittest.TestCase):
    def test_line_total_applies_the_discount(self) -> None:
        self.assertEqual(line_total(250, 12), 2700)

    def test_order_total(self) -> None:
        self.assertEqual(order_total([(100, 1), (250, 10)]), 100 + 2250)


if __name__ == "__main__":
    unittest.main()
