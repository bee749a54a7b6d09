"""Billing periods: an organization's period starts on its billing day of every month,
clamped to the month's end (a billing day of 31 is 28 or 29 February, 30 April)."""

from __future__ import annotations

import calendar
from datetime import date


def billing_date(year: int, month: int, billing_day: int) -> date:
    return date(year, month, min(billing_day, calendar.monthrange(year, month)[1]))


def period_start(today: date, billing_day: int) -> date:
    """The start of the billing period `today` is in: this month's billing date when it has
    come, else last month's."""
    this_month = billing_date(today.year, today.month, billing_day)
    if this_month <= today:
        return this_month
    year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return billing_date(year, month, billing_day)


def next_period_start(today: date, billing_day: int) -> date:
    start = period_start(today, billing_day)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return billing_date(year, month, billing_day)
