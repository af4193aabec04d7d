"""Reading how far ahead a question asks to forecast."""

from __future__ import annotations

import pytest

from nexus.forecast import Grain, parse_horizon


class TestParseHorizon:
    @pytest.mark.parametrize(
        ("text", "grain", "expected"),
        [
            ("forecast sales for the next 6 months", "month", 6),
            ("What will revenue be next month?", "month", 1),
            ("next year", "month", 12),
            ("next year", "quarter", 4),
            ("next year", "week", 52),
            ("next year", "day", 365),
            ("predict the next 2 quarters", "quarter", 2),
            ("next 2 quarters", "month", 6),
            ("next 30 days", "day", 30),
            ("next 30 days", "month", 1),
            ("next 90 days", "month", 3),
            ("next 6 weeks", "month", 2),
            ("next week", "day", 7),
            ("next month", "week", 5),
            ("over the coming three months", "month", 3),
            ("the following twelve months", "month", 12),
            ("next couple of years", "year", 2),
            ("next few quarters", "quarter", 3),
            ("a year ahead", "month", 12),
            ("18 months ahead", "quarter", 6),
            ("project orders 8 weeks out", "week", 8),
            ("forecast 24 months", "month", 24),
            ("forecast demand for 10 days", "day", 10),
            ("next decade", "year", 10),
            ("next 12 periods", "quarter", 12),
            ("NEXT 3 MONTHS", "month", 3),
            ("next 1.5 years", "month", 18),
        ],
    )
    def test_horizons(self, text: str, grain: Grain, expected: int) -> None:
        assert parse_horizon(text, grain) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "forecast sales",
            "sales in the last 6 months",
            "what happened over 3 months in 2023",
            "monthly revenue trend",
            "is there seasonality?",
            "next 0 months",
        ],
    )
    def test_no_horizon(self, text: str) -> None:
        assert parse_horizon(text, "month") is None
