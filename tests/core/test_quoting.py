"""``key_quoter`` answers exactly as ``urllib.parse.quote`` with the same ``safe``."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sartiq_storage.core.quoting import key_quoter

SAFES = ["/", "/-._~!$&'()*+,;=:@"]  # the signer's paths, the public URLs'
KEYS = st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=40) | st.text(max_size=20)


@pytest.mark.parametrize("safe", SAFES)
@given(key=KEYS)
def test_same_as_quote(safe: str, key: str) -> None:
    assert key_quoter(safe)(key) == quote(key, safe=safe)


@pytest.mark.parametrize("safe", SAFES)
def test_a_key_that_needs_no_encoding_is_answered_as_it_is(safe: str) -> None:
    key = "temp/0123abcdef_1796468858_red-photo.v2~final.jpg"
    assert key_quoter(safe)(key) is key
    assert key_quoter(safe)("media/a b%/é.jpg") == quote("media/a b%/é.jpg", safe=safe)
