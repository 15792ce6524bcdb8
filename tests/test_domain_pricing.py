"""Money is exact: parsing, formatting, quotes and pro-rata splits never gain or lose a unit."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput
from bot.domain.pricing import (MAX_FEE_BPS, UINT256_MAX, Token, format_amount, parse_amount, pro_rata, quote,
                                to_decimal)

USDC = Token("USDC", 6, "0x" + "11" * 20)
ETH = Token("ETH", 18)


def test_examples():
    assert parse_amount("0.8", 6) == 800_000
    assert parse_amount(".5", 18) == 5 * 10**17
    assert format_amount(800_000, USDC) == "0.8 USDC"
    assert format_amount(10**18, ETH) == "1 ETH"
    q = quote(800_000, 3, 150)
    assert (q.total, q.fee, q.provider_net) == (2_400_000, 36_000, 2_364_000)


@pytest.mark.parametrize("text", ["-1", "1e5", "0x10", "1,5", "", " ", "1.0000001", "NaN", "inf", "１"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_amount(text, 6)


@given(st.integers(0, UINT256_MAX), st.integers(0, 36))
def test_format_parse_roundtrip(units, decimals):
    token = Token("T", decimals)
    text = format_amount(units, token).split()[0]
    assert parse_amount(text, decimals) == units
    assert to_decimal(units, decimals) == Decimal(text)


@given(st.integers(1, 10**30), st.integers(1, 10_000), st.integers(0, MAX_FEE_BPS))
def test_quote_parts_sum_to_total(price, hours, fee_bps):
    q = quote(price, hours, fee_bps)
    assert q.total == price * hours
    assert q.fee + q.provider_net == q.total
    assert 0 <= q.fee <= q.total * MAX_FEE_BPS // 10_000


@given(st.integers(0, UINT256_MAX // 10_001), st.integers(-10, 10**7), st.integers(1, 10**7),
       st.integers(0, MAX_FEE_BPS))
def test_pro_rata_never_creates_or_loses_a_unit(total, elapsed, duration, fee_bps):
    provider, renter, fee = pro_rata(total, elapsed, duration, fee_bps)
    assert provider + renter + fee == total
    assert min(provider, renter, fee) >= 0
    if elapsed >= duration:
        assert renter == 0
    if elapsed <= 0:
        assert provider == fee == 0


def test_quote_rejects_nonsense():
    for args in ((0, 1, 0), (1, 0, 0), (1, -3, 0), (1, 1, MAX_FEE_BPS + 1), (UINT256_MAX, 2, 0)):
        with pytest.raises(InvalidInput):
            quote(*args)
