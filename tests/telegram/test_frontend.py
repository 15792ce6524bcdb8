"""The product's Telegram front-end, end to end through the real python-telegram-bot client and the
loopback Telegram: menus, /start and /help, paging, the deep-link handoff from a group, questions
for missing inputs (/cancel, timeout), private replies and people who never started the bot."""
from __future__ import annotations

from devnet.telegram import LoopbackTelegram
from devnet.telegram.world import Member
from tests.helpers import provider_with_offer


async def offers(front, n: int) -> list[int]:
    ids = []
    for i in range(n):
        _, offer_id = await provider_with_offer(front.runtime.app, f"prov{i}", price=f"0.{i + 1}")
        ids.append(offer_id)
    return ids


async def test_menus_are_registered_per_scope(tg: LoopbackTelegram, frontend_factory) -> None:
    support = tg.add_supergroup("Support", forum=True)
    await frontend_factory(telegram={"support_chat_id": support.id})
    private = [c["command"] for c in tg.commands({"type": "all_private_chats"})]
    assert private[0] == "start" and {"help", "offers", "rent", "wallet", "host", "sshkey"} <= set(private)
    assert "resolve" not in private
    assert [c["command"] for c in tg.commands({"type": "all_group_chats"})] == ["offers", "offer", "rent", "help"]
    staff = [c["command"] for c in tg.commands({"type": "chat_administrators", "chat_id": support.id})]
    assert {"resolve", "disputes", "setup"} <= set(staff)


async def test_start_greets_and_help_lists_commands(tg: LoopbackTelegram, frontend_factory) -> None:
    await frontend_factory()
    alice = tg.add_user("Alice")
    await alice.start()
    await tg.wait_for(alice.dm, "GPU rentals, paid from your own wallet")
    listing = await tg.wait_for(alice.dm, "Commands:")
    assert "/rent <offer> <hours>" in listing.text and "<code>" in listing.html


async def test_offers_pages_are_edited_in_place(tg: LoopbackTelegram, frontend_factory) -> None:
    front = await frontend_factory()
    await offers(front, 12)
    alice = tg.add_user("Alice")
    group = tg.add_supergroup("Renters", members=[alice], bot_rights=None)
    await alice.send("/offers sort=price", chat=group)
    page = await tg.wait_for(group, "page 1/")
    assert all(len(b["callback_data"].encode()) <= 64 for row in page.buttons for b in row if "callback_data" in b)
    query = await alice.press(page, "Next page")
    await tg.wait_for(group, "page 2/")
    assert page.edited and "page 2/" in page.text and query.answered
    assert len(tg.messages(group)) == 1
    await alice.press(page, "Previous page")
    await tg.wait_for(group, "page 1/")


async def test_rent_in_a_group_continues_in_the_private_chat(tg: LoopbackTelegram, frontend_factory) -> None:
    front = await frontend_factory()
    [offer_id] = await offers(front, 1)
    alice = tg.add_user("Alice")
    group = tg.add_supergroup("Renters", members=[alice], bot_rights=None)
    await alice.send(f"/rent {offer_id} 3", chat=group)
    handoff = await tg.wait_for(group, "renting happens in our private chat")
    assert handoff.button("Rent offer")["url"] == f"https://t.me/{tg.bot_username}?start=rent_{offer_id}"
    await alice.press(handoff, "Rent offer")                       # opens the DM: /start rent_<offer>
    question = await tg.wait_for(alice.dm, "which hours?")
    assert [b["text"] for b in question.buttons[0]] == ["1", "2", "4", "8"]
    await alice.press(question, "2")
    done = await tg.wait_for(alice.dm, f"Rental #")
    assert "reserved" in done.text.lower() or "rental" in done.text.lower()
    assert all("Rental #" not in m.text for m in tg.messages(group))   # nothing personal in the group


async def test_a_wrong_answer_is_asked_again_and_cancel_ends_the_question(tg: LoopbackTelegram,
                                                                          frontend_factory) -> None:
    front = await frontend_factory()
    [offer_id] = await offers(front, 1)
    alice = tg.add_user("Alice")
    await alice.send(f"/rent {offer_id}")
    await tg.wait_for(alice.dm, "which hours?")
    await alice.send("lots")
    again = await tg.wait_for(alice.dm, "that did not work")
    assert "whole number" in again.text
    await alice.send("/cancel")
    await tg.wait_for(alice.dm, "Cancelled; nothing was done.")
    await alice.send("5")                                          # no question is open any more
    await tg.wait_for(alice.dm, "I answer commands")


async def test_an_unanswered_question_times_out(tg: LoopbackTelegram, frontend_factory) -> None:
    front = await frontend_factory(telegram={"conversation_timeout_s": 10})
    [offer_id] = await offers(front, 1)
    alice = tg.add_user("Alice")
    await alice.send(f"/rent {offer_id}")
    await tg.wait_for(alice.dm, "which hours?")
    await tg.wait_for(alice.dm, "No answer for a while", timeout=20)


async def test_private_replies_reach_the_private_chat_or_say_how(tg: LoopbackTelegram, frontend_factory) -> None:
    await frontend_factory()
    alice, bob = tg.add_user("Alice", started=True), tg.add_user("Bob <b>")
    group = tg.add_supergroup("Renters", members=[alice, bob], bot_rights=None)
    await alice.send("/wallet link 0x" + "ab" * 20, chat=group)
    await tg.wait_for(group, "I answered you in our private chat")
    await tg.wait_for(alice.dm, "Sign this message")
    await bob.send("/wallet link 0x" + "cd" * 20, chat=group)
    told = await tg.wait_for(group, "you have not started one")
    assert told.text.startswith("Bob <b>:") and "Sign this message" not in told.text
    assert told.button("Open the private chat")["url"] == f"https://t.me/{tg.bot_username}"
    assert 403 in [c.status for c in tg.calls("sendMessage")]


async def test_offer_create_is_a_guided_conversation(tg: LoopbackTelegram, frontend_factory) -> None:
    front = await frontend_factory()
    await offers(front, 1)                                         # a listed GPU model to suggest
    carol = tg.add_user("Carol")
    await carol.send("/host add rig gpu1.example.net 22 gpuflow")
    await tg.wait_for(carol.dm, "rig")
    await carol.send("/offer create")
    gpu = await tg.wait_for(carol.dm, "which gpu?")
    await carol.press(gpu, "rtx4090")
    count = await tg.wait_for(carol.dm, "which count?")
    assert [b["text"] for b in count.buttons[0]] == ["1", "2", "4", "8"]
    await carol.press(count, "2")
    await carol.press(await tg.wait_for(carol.dm, "which vram?"), "24")
    await tg.wait_for(carol.dm, "which price?")
    await carol.send("0.75")
    await carol.press(await tg.wait_for(carol.dm, "which min hours?"), "1")
    await carol.press(await tg.wait_for(carol.dm, "which max hours?"), "72")
    region = await tg.wait_for(carol.dm, "which region?")
    await carol.send("eu")
    saved = await tg.wait_for(carol.dm, "is saved, not listed yet")     # her machine is not verified yet
    assert "2x" in saved.text and region.message_id < saved.message_id
    assert "/host verify rig" in saved.text and "/wallet link" in saved.text, saved.text


async def test_support_commands_are_refused_to_others(tg: LoopbackTelegram, frontend_factory) -> None:
    support = tg.add_supergroup("Support", forum=True)
    await frontend_factory(telegram={"support_chat_id": support.id})
    mallory = tg.add_user("Mallory")
    support.members[mallory.id] = Member(mallory.id)              # a plain member, not an administrator
    await mallory.send("/resolve #1 100 give it all to me", chat=support)
    refusal = await tg.wait_for(support, "only support staff")
    assert refusal.buttons == []                                   # no confirmation offered
    await mallory.send("/disputes", chat=support)
    await tg.wait_for(support, "only support staff")


async def test_the_same_wallet_on_console_and_telegram_is_one_person(tg: LoopbackTelegram, frontend_factory) -> None:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from bot.chat.invocation import console

    front = await frontend_factory()
    [offer_id] = await offers(front, 1)
    key = "0x" + "11" * 32
    address = Account.from_key(key).address
    router = front.runtime.router

    async def sign_in(send) -> None:
        reply_text = await send(f"/wallet link {address}")
        head, _, rest = reply_text.partition("\n\n")
        message, _, _ = rest.rpartition("\n\n")
        signature = Account.sign_message(encode_defunct(text=message), key).signature.to_0x_hex()
        assert address in await send(f"/wallet verify {signature}")

    on_console = console("dora")

    async def console_send(text: str) -> str:
        return (await router.handle_text(on_console, text)).text
    await sign_in(console_send)
    assert "reserved" in (await console_send(f"/rent {offer_id} 2")).lower()

    dora = tg.add_user("Dora")

    async def telegram_send(text: str) -> str:
        await dora.send(text)
        return (await tg.wait_for(dora.dm)).text
    await sign_in(telegram_send)
    await dora.send("/rentals")
    mine = await tg.wait_for(dora.dm, "Your rentals")
    assert "#1 1x rtx4090 24 GB · 2 h" in mine.text and "awaiting deposit" in mine.text   # made on the console
