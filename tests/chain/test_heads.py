"""Rounds follow the chain's blocks: the cadence learns block time and phase, and HeadWatch reports
each new head of a real anvil mining on a timer, by polling and over WebSocket. No timing is
asserted beyond "a head was reported"; the speed is measured in bench/time_to_gpu.py."""
from __future__ import annotations

import asyncio

import pytest

from bot.chain.heads import FAST_S, BlockCadence, HeadWatch
from bot.chain.rpc import make_web3
from tests.support.anvil import start_anvil


def test_the_cadence_learns_the_block_time_and_looks_just_before_the_next_block():
    c = BlockCadence()
    assert c.wait_s(0.0, 2.0) < 2.0                        # nothing learnt: looks often
    c.learn([100, 112, 124, 136, 148])
    assert c.block_time == 12.0
    c.looked(10, at=50.0)                                  # first sight: an upper bound
    c.looked(10, at=61.0)
    assert c.looked(11, at=61.0 + FAST_S) is True          # seen between two close looks
    assert c.arrived == pytest.approx(61.0 + FAST_S / 2)
    wait = c.wait_s(62.0, 30.0)
    assert 10.5 < wait < 12.0                              # sleeps until just before the next one
    assert c.wait_s(c.due(), 30.0) == FAST_S               # due: looks again soon
    assert c.wait_s(c.due() + 7, 30.0) == 30.0             # long overdue (mining on demand): the interval


def test_gaps_of_zero_or_going_back_are_not_a_block_time():
    c = BlockCadence()
    c.learn([5, 5, 5])
    assert c.block_time is None


@pytest.mark.parametrize("transport", ["poll", "ws"])
async def test_head_watch_reports_each_new_block(transport):
    with start_anvil("--block-time", "1") as node:
        w3 = make_web3(node.rpc_url)
        watch = HeadWatch(w3, ws_url=node.ws_url if transport == "ws" else None)
        await watch.start()
        stop = asyncio.Event()
        try:
            if transport == "ws":
                for _ in range(50):
                    if watch._ws_up:
                        break
                    await asyncio.sleep(0.1)
                assert watch._ws_up
            heads = []
            for _ in range(4):
                assert await watch.next_head(stop, 5.0) is True
                heads.append(watch.cadence.head)
            assert heads == sorted(heads) and len(set(heads)) == 4
            if transport == "poll":
                assert watch.cadence.block_time == 1.0
            stop.set()
            assert await watch.next_head(stop, 5.0) is False
        finally:
            await watch.close()
            await w3.provider.disconnect()


async def test_without_new_blocks_a_round_still_comes_after_the_interval():
    with start_anvil() as node:                            # automine: no blocks without transactions
        w3 = make_web3(node.rpc_url)
        watch = HeadWatch(w3)
        try:
            assert await watch.next_head(asyncio.Event(), 0.5) is False   # the first look only learns the head
            assert await watch.next_head(asyncio.Event(), 0.5) is False
        finally:
            await w3.provider.disconnect()
