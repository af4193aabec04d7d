"""The one problem a forecast ends in when the series cannot be forecast."""

from __future__ import annotations

from nexus.errors import UnprocessableContent


class ForecastError(UnprocessableContent):
    """The series cannot be forecast: too short, not numbers, no dates, too sparse."""

    type_slug = "forecast-not-possible"
