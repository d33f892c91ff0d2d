"""What the hostile suites send to the recipient pages and the console: odd text, forms
and bodies, drawn by hypothesis."""

from __future__ import annotations

import base64
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

FORM = "application/x-www-form-urlencoded"
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]

texts = st.text(max_size=40)


def garbage(token_prefix: str) -> st.SearchStrategy[str]:
    """Odd text: anything, characters that break naive parsing and escaping, and strings
    shaped like a token or cookie that starts with `token_prefix`."""
    return st.one_of(
        texts,
        st.text(alphabet="é€ü\u0000\u202e%./\\<>\"'", max_size=20),
        st.from_regex(rf"{token_prefix}\.[A-Za-z0-9_\-]{{0,120}}", fullmatch=True),
    )


def fields(count: int) -> str:
    """A form body of `count` fields."""
    return "&".join(f"f{i}=x" for i in range(count))


too_many_fields = st.integers(199, 260).map(fields)
"""Bodies around the limit of 200 fields a form may have."""


def csrf_forms(
    csrf: st.SearchStrategy[str], extra: st.SearchStrategy[dict[str, str]], *, fixed: str = ""
) -> st.SearchStrategy[str]:
    """Form bodies: a CSRF token drawn from `csrf`, then the `fixed` fields (encoded,
    each ending in `&`), then fields drawn from `extra`."""
    return st.builds(
        lambda token, drawn: "csrf=" + quote(token, safe="%") + "&" + fixed + urlencode(drawn),
        csrf,
        extra,
    )


def draw_body(data: st.DataObject, forms: st.SearchStrategy[str]) -> tuple[str | None, bool]:
    """A body (or none) from `forms`, and whether it is sent as base64: when it is, the
    body is its base64 or text that is not base64 at all."""
    body = data.draw(st.one_of(st.none(), forms))
    encoded = data.draw(st.booleans())
    if body is not None and encoded:
        body = data.draw(
            st.one_of(
                st.just(base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()),
                st.just("!!not base64!!"),
            )
        )
    return body, encoded
