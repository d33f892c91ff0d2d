"""The email fast path the classifier takes for every row gives email-validator's answer
with the project's settings (strict local-part length, SMTPUTF8 only if the sender has
it, the domain in IDNA form), also for addresses near its edges: dots, hyphens, IDNA
labels, special-use and numeric top-level domains, and lengths at and past every limit
(local part 64, label 63, domain 253, address 254, and the fast path's own 189 for a
domain)."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consentry.addresses import normalize as n
from tests.unit.test_normalize import email_validator_answer

LOCAL_LIMIT, LABEL_LIMIT, DOMAIN_LIMIT, ADDRESS_LIMIT = 64, 63, 253, 254
FAST_DOMAIN_LIMIT = ADDRESS_LIMIT - LOCAL_LIMIT - 1


def near(limit: int) -> st.SearchStrategy[int]:
    """A length at a limit, just under or just past it."""
    return st.sampled_from([limit - 1, limit, limit + 1])


local_parts = st.one_of(
    st.text(alphabet="aZ9.-_+!'", min_size=1, max_size=70),
    st.text(alphabet="aZ9üß.", min_size=1, max_size=40),
    st.builds(lambda size, fill: fill * size, near(LOCAL_LIMIT), st.sampled_from(["a", "Z", "9"])),
    st.builds(lambda size: "a." * (size // 2) + "b" * (size % 2), near(LOCAL_LIMIT)),
)
labels = st.one_of(
    st.text(alphabet="aB0-", min_size=1, max_size=66),
    st.text(alphabet="aü", min_size=1, max_size=10),
    st.sampled_from(["xn--bcher-kva", "xn--", "bücher"]),
    st.builds(lambda size: "a" * size, near(LABEL_LIMIT)),
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


def domain_of_length(size: int) -> str:
    """An LDH domain of exactly `size` characters (size >= 5) under `.com`."""
    body = size - len(".com")
    labels, left = [], body
    while left > 0:
        label = min(LABEL_LIMIT, left)
        if left - label == 1:  # a lone dot cannot end the body: shorten this label
            label -= 1
        labels.append("b" * label)
        left -= label + 1
    return ".".join(labels) + ".com"


sized_addresses = st.one_of(
    # the domain at and past its limits, with a short local part
    st.builds(
        lambda size, local: f"{local}@{domain_of_length(size)}",
        near(DOMAIN_LIMIT) | near(FAST_DOMAIN_LIMIT),
        st.sampled_from(["a", "a" * LOCAL_LIMIT]),
    ),
    # the whole address at and past its limit, with a full local part or a short one
    st.builds(
        lambda size, local: f"{local}@{domain_of_length(size - len(local) - 1)}",
        near(ADDRESS_LIMIT),
        st.sampled_from(["a", "a" * (LOCAL_LIMIT - 1), "a" * LOCAL_LIMIT, "a" * (LOCAL_LIMIT + 1)]),
    ),
)


@settings(max_examples=1500, deadline=None)
@given(addresses | sized_addresses, st.booleans())
@example("a" * 64 + "@example.com", False)
@example("a" * 65 + "@example.com", False)
@example("a" * 65 + "@example.com", True)
@example("üser@example.com", False)
@example("a@bücher.de", False)
@example("a@" + ".".join(["b" * 60] * 4) + ".com", False)
@example("a.@example.com", False)
@example("a@b-.com", False)
def test_the_fast_path_gives_the_library_s_answer(raw: str, smtputf8: bool) -> None:
    assert n.normalize_email(raw, smtputf8=smtputf8) == email_validator_answer(
        raw, smtputf8=smtputf8
    )


def test_the_sized_addresses_have_the_lengths_they_claim() -> None:
    assert [len(domain_of_length(size)) for size in (188, 189, 190, 252, 253, 254)] == [
        188,
        189,
        190,
        252,
        253,
        254,
    ]
