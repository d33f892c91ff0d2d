"""The email fast path the classifier takes for every row gives email-validator's answer,
also for addresses near its edges: dots, hyphens, IDNA labels, long parts, special-use
and numeric top-level domains, and other cases."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consentry.addresses import normalize as n

local_parts = st.text(alphabet="aZ9.-_+!'", min_size=1, max_size=70)
labels = st.one_of(
    st.text(alphabet="aB0-", min_size=1, max_size=66),
    st.sampled_from(["xn--bcher-kva", "xn--", "a" * 63, "a" * 64]),
)
top_levels = st.one_of(
    st.text(alphabet="aZ1-", min_size=1, max_size=5),
    st.sampled_from(["test", "local", "onion", "arpa", "invalid", "localhost", "example"]),
)
addresses = st.builds(
    lambda local, domain, tld, pad: f"{pad}{local}@{'.'.join([*domain, tld])}{pad}",
    local_parts,
    st.lists(labels, min_size=0, max_size=4),
    top_levels,
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=1000, deadline=None)
@given(addresses)
@example("a" * 64 + "@example.com")
@example("a" * 65 + "@example.com")
@example("a@" + ".".join(["b" * 60] * 4) + ".com")
@example("a.@example.com")
@example("a@b-.com")
def test_the_fast_path_gives_the_library_s_answer(raw: str) -> None:
    assert n.normalize_email(raw) == n._validated_email.__wrapped__(raw.strip().lower())
