"""The offer query language: examples, errors that name the bad term, and round trips."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput
from bot.domain.query import FIELDS, Filter, OfferQuery, describe, normalize_gpu, parse_query


def test_vast_style_example():
    q = parse_query("gpu=rtx4090 count>=2 vram>=24 price<=0.8 region=eu sort=price")
    assert q.filters == (Filter("gpu", "=", "rtx4090"), Filter("count", ">=", 2), Filter("vram", ">=", 24),
                         Filter("price", "<=", 800_000_000), Filter("region", "=", "eu"))
    assert q.sort == (("price", False),)


def test_normalization_and_descending_sort():
    q = parse_query("GPU=RTX-4090 sort=-reliability reliability>=95%")
    assert q.filters[0].value == "rtx4090" and q.filters[1].value == 9500
    assert q.sort == (("reliability", True),)


@pytest.mark.parametrize("text,named", [
    ("gpu>rtx4090", "gpu>rtx4090"), ("colour=red", "colour"), ("count>=two", "count>=two"),
    ("price<=-1", "price<=-1"), ("sort=colour", "colour"), ("rtx4090", "rtx4090"),
    ("region=e$u", "region=e$u"), ("page=0", "page=0"), ("limit=500", "limit=500"),
    ("reliability>=2", "reliability"),
])
def test_errors_name_the_bad_term(text, named):
    with pytest.raises(InvalidInput) as err:
        parse_query(text)
    assert named in err.value.message


def test_too_long_or_too_many_terms():
    with pytest.raises(InvalidInput):
        parse_query("gpu=a " * 200)
    with pytest.raises(InvalidInput):
        parse_query(" ".join(["count>=1"] * 21))


_alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
_value = {
    # a parsed gpu value is a normalized key ("geforce", "nvidia" are vendor words it drops)
    "gpu": st.text(_alnum, min_size=1, max_size=12).filter(lambda v: normalize_gpu(v) == v),
    "region": st.tuples(st.sampled_from(_alnum), st.text(_alnum + "-", max_size=10)).map("".join),
    "provider": st.tuples(st.sampled_from(_alnum), st.text(_alnum + "._-", max_size=10)).map("".join),
    "count": st.integers(0, 64), "vram": st.integers(0, 4096),
    "price": st.integers(0, 10**15), "reliability": st.integers(0, 10_000).map(lambda v: v - v % 1),
}


@st.composite
def queries(draw):
    filters = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(sorted(FIELDS)))
        ops = ["=", "!="] if FIELDS[name].kind == "text" else ["=", "!=", "<", "<=", ">", ">="]
        filters.append(Filter(name, draw(st.sampled_from(ops)), draw(_value[name])))
    keys = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=3))
    sort = tuple((k, draw(st.booleans())) for k in keys)
    return OfferQuery(tuple(filters), sort, draw(st.integers(1, 10_000)), draw(st.integers(1, 50)))


@given(queries())
def test_describe_then_parse_is_identity(q):
    assert parse_query(describe(q)) == q


@given(st.text(max_size=300))
def test_any_text_parses_or_gets_a_clear_error(text):
    try:
        parse_query(text)
    except InvalidInput as exc:
        assert exc.message and "Traceback" not in exc.message
