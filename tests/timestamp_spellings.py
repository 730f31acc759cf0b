"""Generated upstream timestamp texts: TelemetryTV's own spelling, others, and broken ones.

Used by the adapter's tests: each text is read as the datetime path reads it. (What is
read is an aware datetime at a whole-minute offset; tests/scim/test_render.py renders
such datetimes as scim2-models dumps them.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


def telemetrytv_spelling(instant: datetime, to_the_second: bool) -> str:
    """How TelemetryTV writes an instant: UTC, ``Z``, to the millisecond (or second)."""
    plain = instant.replace(tzinfo=None)
    if to_the_second:
        return plain.isoformat(timespec="seconds") + "Z"
    return plain.isoformat(timespec="milliseconds") + "Z"


own_spellings = st.builds(telemetrytv_spelling, instants, st.booleans())
"""Texts in TelemetryTV's own spelling, each naming a real instant."""


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    # One character of an own spelling replaced: month 13, day 31 of a 30-day month, hour
    # 24, second 60, another script's digit, a lower-case z, a space, a comma...
    text = draw(own_spellings)
    at = draw(st.integers(0, len(text) - 1))
    char = draw(st.sampled_from(list("0123456789Zz:-T. ,+\u0663\uff11")))
    return text[:at] + char + text[at + 1 :]


_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
)

other_spellings = st.one_of(
    # The same instants in every spelling isoformat has, with and without an offset.
    st.builds(
        lambda instant, spec, tz: instant.astimezone(tz).isoformat(timespec=spec),
        # A day in from either end: year 1 at -05:30 would be before datetime.min.
        st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
        ),
        st.sampled_from(["auto", "hours", "minutes", "seconds", "milliseconds", "microseconds"]),
        _OFFSETS,
    ),
    st.builds(lambda instant: instant.replace(tzinfo=None).isoformat(), instants),
    _mutated(),
    st.sampled_from(
        [
            "",
            "not a time",
            "2026-11-29T21:00:00.123z",
            "2026-11-29 21:00:00.123Z",
            "2026-11-29T21:00:00.12Z",
            "2026-11-29T21:00:00.1234Z",
            "2026-11-29T21:00:00.000Z",
            "2026-11-29T24:00:00.000Z",
            "2026-02-29T21:00:00.000Z",
            "2024-02-29T21:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "2026-11-29T21:00:00.123Z ",
            "2026-11-29T21:00:00.123Z\n",
            "20261129T210000.123Z",
            "2026-11-29T21:00:00,123Z",
        ]
    ),
    st.text(max_size=30),
)
"""Any other text: other valid spellings, near misses and nonsense."""

spellings = st.one_of(own_spellings, other_spellings)
"""Any upstream timestamp text."""
