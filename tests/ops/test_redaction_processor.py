"""The log redaction processor replaces every secret-named key, however often keys recur."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scim_proxy.ops.logging import REDACTED, redact_secrets

SECRET_NAMES = ("authorization", "token", "api_token", "password", "secret", "credentials")
KEYS = st.one_of(
    st.sampled_from(SECRET_NAMES).flatmap(
        lambda name: st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
            lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))
        )
    ),
    st.sampled_from(("request_id", "status", "route", "token_fingerprint", "event")),
    st.text(min_size=1, max_size=12),
)


@given(events=st.lists(st.dictionaries(KEYS, st.integers(), max_size=8), max_size=6))
def test_each_event_is_redacted_as_if_every_key_were_checked(
    events: list[dict[str, object]],
) -> None:
    for event in events:
        expected = {
            key: REDACTED if key.lower() in {*SECRET_NAMES, "cookie"} else value
            for key, value in event.items()
        }
        assert redact_secrets(None, "info", dict(event)) == expected
        # Again, now that its harmless keys are known.
        assert redact_secrets(None, "info", dict(event)) == expected
