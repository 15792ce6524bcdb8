"""The chain layer: the committed escrow artifact, transaction builders and senders, and the
event watcher that feeds escrow events into the store exactly once.

web3.py note (#3867): cancelling an in-flight AsyncHTTPProvider request (asyncio.wait_for, task
cancellation) can leave web3's process-wide session lock held so every later HTTP call hangs.
This package never cancels web3 calls: HTTP requests are bounded by aiohttp's own timeout
(bot.chain.rpc.make_web3) and receipts are polled with a deadline checked between calls.
"""
