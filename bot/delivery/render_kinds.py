"""Renderers of the rental, dispute, support and wallet kinds (see bot.delivery.render).

Data values are what the notifying code put there: ids as ints, amounts already formatted with
their token ("0.5 USDC"), times as ISO strings (JSON has no datetimes).
"""
from __future__ import annotations

from datetime import datetime

from bot.chat.message import Action, ActionStyle, Message, bold, code, plain, user
from bot.delivery.kinds import Kind
from bot.delivery.render import Data, extend_action, key_attachment, renders


def when(value) -> str:
    """An ISO time from the data, as people read it."""
    if not value:
        return "?"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return str(value)


def _head(d: Data) -> tuple:
    return (bold(f"Rental #{d['rental']}"), plain(": "))


def _subject(d: Data) -> tuple:
    """"Rental #7" as the subject of the sentence that follows."""
    return (bold(f"Rental #{d['rental']}"), plain(" "))


@renders(Kind.DEPOSIT_SEEN)
def _deposit_seen(d: Data) -> Message:
    return Message().add(*_head(d), plain("your deposit is on chain; waiting for it to be confirmed."))


@renders(Kind.FUNDED)
def _funded(d: Data) -> Message:
    return Message().add(*_head(d), plain("your deposit is confirmed. Setting up your machine now."))


@renders(Kind.PROVISIONING)
def _provisioning(d: Data) -> Message:
    return Message().add(*_head(d), plain("setting up SSH access on the provider's machine."))


@renders(Kind.GPU_VERIFIED)
def _gpu_verified(d: Data) -> Message:
    return Message().add(*_head(d), plain("the GPUs are checked: "), user(str(d.get("gpus", "as listed"))))


@renders(Kind.READY)
def _ready(d: Data) -> Message:
    return Message().add(*_head(d), plain("ready; your login is in your direct messages."))


@renders(Kind.CREDENTIALS)
def _credentials(d: Data) -> Message:
    if "text" in d:         # sealed finished prose (the compatibility path)
        msg = Message()
        for line in str(d["text"]).split("\n"):
            msg.add(plain(line))
        return msg
    msg = Message().add(bold(f"Rental #{d['rental']} is ready."), plain(" Your SSH login (keep it private):"))
    msg.add(plain("  host "), code(str(d["host"])), plain(", port "), code(str(d["port"])), plain(", user "),
            code(str(d["user"])))
    msg.add(plain("  "), code(str(d["ssh_command"])))
    if d.get("key_fingerprint"):
        msg.add(plain("  key fingerprint "), code(str(d["key_fingerprint"])))
    if d.get("ends_at"):
        msg.add(plain(f"  access ends {when(d['ends_at'])}"))
    elif d.get("hours"):      # handed over with the start transaction: the exact end follows once it is mined
        about = f"; until about {when(d['about'])}" if d.get("about") else ""
        msg.add(plain(f"  access for {d['hours']} h from the start on chain (being sent now{about}); "
                      "the exact end follows once it is mined"))
    if d.get("private_key"):
        msg.add(plain(f"Your private key is attached as {d.get('key_filename') or 'the file'}; save it with "
                      "permissions 600. The bot forgets it when the rental ends."))
        msg.attachments.extend(key_attachment(d))
    return msg


@renders(Kind.ENDING_SOON)
def _ending_soon(d: Data) -> Message:
    msg = Message().add(*_head(d), plain(f"ends in {d.get('minutes', '?')} minutes ({when(d.get('ends_at'))}). "
                                         "Extend it to keep the machine:"))
    msg.add(code(f"/extend {d['rental']} <hours>"))
    msg.actions.append(extend_action(d["rental"]))
    return msg


@renders(Kind.ENDED)
def _ended(d: Data) -> Message:
    return Message().add(*_subject(d), plain("has ended and its SSH access is being removed."))


@renders(Kind.REFUNDED)
def _refunded(d: Data) -> Message:
    return Message().add(*_subject(d), plain(f"was cancelled and {d.get('refund', 'your deposit')} is yours to "
                                          "withdraw ("), code("/withdraw"), plain("): "),
                         user(str(d.get("reason", "the rental could not be started"))), plain("."))


@renders(Kind.DEPOSIT_REMINDER)
def _deposit_reminder(d: Data) -> Message:
    rid = d["rental"]
    msg = Message().add(*_head(d), plain(f"no deposit yet. The slot is released at {when(d.get('deadline'))} "
                                         f"(in {d.get('minutes', '?')} minutes). Pay with "), code(f"/pay {rid}"))
    msg.actions += [Action(f"Pay rental {rid}", command="pay", args={"rental": rid}, style=ActionStyle.PRIMARY),
                    Action("Cancel", command="cancel", args={"rental": rid}, style=ActionStyle.DANGER)]
    return msg


@renders(Kind.DEPOSIT_MISMATCH)
def _deposit_mismatch(d: Data) -> Message:
    return Message().add(*_head(d), plain("the deposit on chain does not match the quote ("
                                          + "; ".join(d.get("problems", [])) + "), so nothing was provisioned. The "
                                          "bot refunds all of it to the wallet that paid ("),
                         code(str(d.get("wallet", "?"))), plain("); you will be told when it can be withdrawn."))


@renders(Kind.STARTED)
def _started(d: Data) -> Message:
    return Message().add(*_head(d), plain(f"the rental clock started on chain at {when(d.get('started_at'))}; your "
                                          f"access ends {when(d.get('ends_at'))}."))


@renders(Kind.CONTRACT_DISAGREES)
def _contract_disagrees(d: Data) -> Message:
    msg = Message(title="The bot's configuration disagrees with its escrow contract")
    msg.add(plain("Contract "), code(str(d.get("address", "?"))), plain(":"))
    for problem in d.get("problems", []):
        msg.add(plain(f"  - {problem}"))
    msg.add(plain("Deposits are not quoted until this is fixed." if d.get("blocking") else
                  "The bot uses the contract's values; fix the configuration ("),
            *(() if d.get("blocking") else (code("gpuflow-bot check-config --online"), plain(")."))))
    return msg


@renders(Kind.EXTENDED)
def _extended(d: Data) -> Message:
    tail = f"; it now ends {when(d['ends_at'])}." if d.get("ends_at") else "."
    return Message().add(*_subject(d), plain(f"is extended by {d.get('hours', '?')} h{tail}"))


@renders(Kind.PROVIDER_FAILED)
def _provider_failed(d: Data) -> Message:
    refunded = "The renter is refunded and the" if d.get("refunded", True) else "The"
    msg = Message().add(plain(f"Rental #{d['rental']} on your offer #{d.get('offer', '?')} could not be delivered: "),
                        user(str(d.get("reason", ""))),
                        plain(f". {refunded} offer is paused (flagged) until it is reviewed."))
    if d.get("review"):
        msg.add(plain(f"To get it reviewed: {d['review']}"))     # our words and a host name (a-z, 0-9, -)
    return msg


@renders(Kind.ACCESS_FAILED)
def _access_failed(d: Data) -> Message:
    rid = d["rental"]
    return Message().add(*_subject(d), plain("is running on chain, but its access could not be set up ("),
                         user(str(d.get("reason", ""))), plain("). The bot keeps trying; if it stays unusable, open "),
                         code(f"/dispute {rid}"), plain(" so support can return your money."))


@renders(Kind.ACCESS_FAILED_SUPPORT)
def _access_failed_support(d: Data) -> Message:
    return Message().add(*_head(d), plain("running on chain without working access: "),
                         user(str(d.get("reason", ""))), plain("."))


@renders(Kind.DEPOSIT_MISMATCH_SUPPORT)
def _deposit_mismatch_support(d: Data) -> Message:
    return Message().add(*_head(d), plain("the escrow accepted a deposit that differs from the rental's quote ("
                                          + "; ".join(d.get("problems", [])) + "). Deposits need the operator key's "
                                          "signature: check the fee configuration and who else holds that key. The "
                                          "bot refunds it."))


@renders(Kind.DISPUTE_ACCESS)
def _dispute_access(d: Data) -> Message:
    return Message().add(*_subject(d), plain("is disputed and its paid time is frozen or over, so its SSH access is "
                                          "suspended during the dispute: the account and its files on the host were "
                                          "removed, and the rental does not resume after the decision."))


@renders(Kind.DISPUTE_RESOLVED)
def _dispute_resolved(d: Data) -> Message:
    return Message().add(plain(f"The dispute on rental #{d['rental']} is decided and paid by the escrow: "
                               f"{d.get('paid', '')}. Collect your part with "), code("/withdraw"), plain("."))


@renders(Kind.DISPUTE_OPENED)
def _dispute_opened(d: Data) -> Message:
    rid = d["rental"]
    msg = Message(title=f"Dispute on rental #{rid}")
    if d.get("renter"):
        msg.add(plain(f"{d.get('gpu', '')}, "), user(d["renter"]), plain(" renting from "), user(d.get("provider", "?")))
    if d.get("by"):
        msg.add(plain("Opened by "), user(d["by"]), plain(": "), user(d.get("reason", "")))
    else:
        msg.add(plain(f"Opened on chain by the {d.get('side', 'renter')} (no reason given in chat)."))
    if d.get("timeline"):
        msg.add(bold("Timeline"))
        for at, text in d["timeline"]:
            msg.add(plain(f"{when(at)}  "), user(text))
    msg.add(plain("Decide with "), code(f"/resolve #{rid} <renter_percent> [note]"))
    return msg


@renders(Kind.DISPUTE_TIMEOUT)
def _dispute_timeout(d: Data) -> Message:
    return Message().add(bold(f"Dispute on rental #{d['rental']} times out {when(d.get('due_at'))}"),
                         plain(": without a decision by then anyone can settle it pro rata on chain. Decide with "),
                         code(f"/resolve #{d['rental']} <renter_percent> [note]"))


@renders(Kind.SETTLED_UNRESOLVED)
def _settled_unresolved(d: Data) -> Message:
    return Message().add(*_head(d), plain("the decision recorded with /resolve was never sent by the arbiter; the "
                                          f"dispute timed out on chain and was settled pro rata ({d.get('paid', '')})."))


@renders(Kind.UNKNOWN_DEPOSIT)
def _unknown_deposit(d: Data) -> Message:
    return Message().add(plain("A deposit arrived for an escrow id this bot never issued ("),
                         code(str(d.get("escrow_id", "?"))),
                         plain("); the depositor can cancel it on chain after the start window."))


@renders(Kind.DELIVERY_FAILED)
def _delivery_failed(d: Data) -> Message:
    msg = Message(title="A delivery failed")
    msg.add(plain(f"The {d.get('what', 'message')} for "), user(str(d.get("user", "?"))),
            plain(f" on {d.get('platform', '?')} could not be delivered after {d.get('attempts', '?')} tries: "),
            user(str(d.get("reason", ""))))
    if d.get("rental"):
        msg.add(plain("Rental "), code(f"#{d['rental']}"),
                plain(": they can ask for it again with "), code(f"/credentials {d['rental']}"),
                plain(" once they can receive direct messages."))
    return msg
