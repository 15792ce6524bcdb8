"""Handing access to the renter: the sealed credentials, and recording a start the chain shows.

The credentials are sealed as data and turned into the DM when they are handed over: with the
start transaction (the paid hours from the start on chain, the end approximate), or, when the
chain's start is known already, with the chain's end (`endOf`). When the start is recorded after
the hand-over, the renter gets the exact end in a short notice; the host's key expiry follows it. Both the watcher's Started event and the worker
that finds the chain already ACTIVE record the start here; the guarded state move makes the
second one a no-op, and the DM's dedupe key makes it go out once.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import SecretBox
from bot.db.models import Provider, Rental
from bot.delivery.kinds import Kind
from bot.delivery.notify import notify
from bot.domain.states import RentalState, Step
from bot.services.common import add_timeline, move
from bot.ssh import Credentials

S = RentalState


def seal_credentials(box: SecretBox, rental_id: int, creds: Credentials) -> str:
    fields = {"host": creds.host, "port": creds.port, "user": creds.user, "ssh_command": creds.ssh_command,
              "key_fingerprint": creds.key_fingerprint, "key_filename": creds.key_filename,
              "private_key": creds.private_key.decode() if creds.private_key is not None else None}
    return box.seal(json.dumps(fields).encode(), f"credentials:{rental_id}")


def credentials_text(rental_id: int, fields: dict, ends_at: datetime | None) -> str:
    lines = [f"Rental #{rental_id} is ready. Your SSH login (keep it private):",
             f"  host {fields['host']}, port {fields['port']}, user {fields['user']}",
             f"  {fields['ssh_command']}",
             f"  key fingerprint {fields['key_fingerprint']}"]
    if ends_at is not None:
        lines.append(f"  access ends {ends_at:%Y-%m-%d %H:%M:%S UTC}")
    if fields.get("private_key"):
        lines += [f"Your private key ({fields['key_filename']}); save it with permissions 600. The bot forgets it "
                  "when the rental ends:", fields["private_key"]]
    return "\n".join(lines)


def credentials_data(box: SecretBox, rental: Rental, *, ends_at: datetime | None = None,
                     now: datetime | None = None) -> dict:
    """What the credentials notice renders (bot.delivery.render_kinds): the sealed fields and the
    end as the store knows it (or `ends_at`, when the chain shows one the store has not recorded
    yet); before the start, the paid hours and the approximate end instead. Sealed text from an
    older version travels as it is."""
    raw = box.open(rental.credentials_sealed, f"credentials:{rental.id}").decode()
    try:
        fields = json.loads(raw)
    except ValueError:
        return {"rental": rental.id, "text": raw}
    end = ends_at or (rental.ends_at if rental.started_at is not None else None)
    data = {**fields, "rental": rental.id, "ends_at": end.isoformat() if end else None}
    if end is None:
        data["hours"] = rental.hours
        if now is not None:
            data["about"] = (now + timedelta(hours=rental.hours)).isoformat()
    return data


def open_credentials(box: SecretBox, rental: Rental) -> str:
    """The credentials DM for the rental as it stands (its end as the store knows it)."""
    raw = box.open(rental.credentials_sealed, f"credentials:{rental.id}").decode()
    try:
        fields = json.loads(raw)
    except ValueError:
        return raw            # sealed as text by an older version
    return credentials_text(rental.id, fields, rental.ends_at)


def credentials_key(rental_id: int) -> str:
    return f"rental:{rental_id}:credentials"


async def queue_credentials(session: AsyncSession, box: SecretBox | None, rental: Rental, *,
                            ends_at: datetime | None = None) -> bool:
    """Queue the credentials notice once (its key); True if it was queued by this call."""
    if box is None or not rental.credentials_sealed:
        return False
    now = session.info.get("now")
    data = credentials_data(box, rental, ends_at=ends_at, now=now() if now else None)
    if await notify(session, Kind.CREDENTIALS, credentials_key(rental.id), data=data, user_id=rental.renter_id,
                    rental_id=rental.id) is None:
        return False
    add_timeline(session, rental.id, "credentials_sent", "SSH login sent to the renter by direct message")
    return True


async def record_start(session: AsyncSession, box: SecretBox | None, rental: Rental, *, started_at: datetime,
                       ends_at: datetime, detail: str) -> bool:
    """The chain shows the rental started: move it to active with the chain's clock and queue the
    credentials. Needs the access to be ready (credentials sealed); False when there is nothing to
    do (recorded already) or access is not ready yet (see note_chain_start)."""
    if rental.state not in (S.FUNDED.value, S.PROVISIONING.value) or not rental.credentials_sealed:
        return False
    await move(session, rental, Step.START, detail, started_at=started_at, ends_at=ends_at, retry_at=None)
    provider = await session.get(Provider, rental.provider_id)
    if provider is not None:
        provider.delivered_count += 1
    await notify(session, Kind.READY, f"rental:{rental.id}:ready", data={"rental": rental.id},
                 user_id=rental.renter_id, rental_id=rental.id)     # the progress message
    if not await queue_credentials(session, box, rental) and box is not None:
        # handed over already, with the start: now the exact end is known
        await notify(session, Kind.STARTED, f"rental:{rental.id}:started", user_id=rental.renter_id,
                     rental_id=rental.id, data={"rental": rental.id, "started_at": started_at.isoformat(),
                                                "ends_at": ends_at.isoformat()})
    return True


def note_chain_start(session: AsyncSession, rental: Rental, *, started_at: datetime, ends_at: datetime) -> None:
    """The chain's clock runs but the access is not ready here yet (an earlier start of ours mined
    late, a crash mid-way): keep the chain's times; the worker delivers and records the start."""
    if rental.started_at == started_at and rental.ends_at == ends_at:
        return
    rental.started_at, rental.ends_at = started_at, ends_at
    add_timeline(session, rental.id, "chain_started",
                 f"the rental clock started on chain at {started_at:%Y-%m-%d %H:%M:%S UTC}; "
                 "delivering access now")
