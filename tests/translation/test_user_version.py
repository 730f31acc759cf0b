"""The user's ``meta.version`` is the same ETag as before it was computed in one hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from scim_proxy.directory import DirectoryUser
from scim_proxy.translation.user_mapping import user_version


def _hashed_part_by_part(user: DirectoryUser) -> str:
    """How versions were computed before: one digest update per part and separator."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (
        user.id,
        user.email,
        user.given_name,
        user.family_name,
        str(user.disabled),
        ",".join(user.group_ids),
        user.last_modified.isoformat() if user.last_modified else "",
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return f'W/"{digest.hexdigest()}"'


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@given(
    id=text,
    email=text,
    given=text,
    family=text,
    disabled=st.booleans(),
    groups=st.lists(text, max_size=3),
    modified=st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_versions_are_unchanged_so_clients_cached_etags_still_match(
    id: str,
    email: str,
    given: str,
    family: str,
    disabled: bool,
    groups: list[str],
    modified: datetime | None,
) -> None:
    user = DirectoryUser(id, email, given, family, disabled, tuple(groups), None, modified)
    assert user_version(user) == _hashed_part_by_part(user)
