"""A market served by two fake platforms at once, "alpha" and "beta", on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.services import users as users_module
from tests.conftest import test_settings
from tests.delivery.fake_frontend import FakePlatform

PLATFORMS = ("alpha", "beta")


@dataclass
class Market:
    app: object
    alpha: FakePlatform
    beta: FakePlatform

    @property
    def services(self):
        return self.app.services

    @property
    def queue(self):
        return self.app.services.deliveries

    async def drain(self) -> None:
        await self.alpha.drain(self.queue)
        await self.beta.drain(self.queue)

    async def on(self, platform: str, user_id: str, name: str):
        return await self.services.users.identify(platform, user_id, name)


@pytest.fixture
def settings_overrides() -> dict:
    return {}


@pytest.fixture
async def market(database_url, clock, tmp_path, monkeypatch, settings_overrides):
    from bot.app import open_app

    monkeypatch.setattr(users_module, "PLATFORMS", (*users_module.PLATFORMS, *PLATFORMS))
    overrides = {"delivery": {"max_attempts": 3, "retry_base_s": 10.0}, "support": ["alpha:sue"],
                 **settings_overrides}
    app = await open_app(test_settings(database_url, data_dir=tmp_path, **overrides), clock=clock)
    for platform in PLATFORMS:
        await app.services.place_store.set(None, platform, "listings", f"{platform}-guild", f"{platform}-offers")
        await app.services.place_store.set(None, platform, "support", f"{platform}-guild", f"{platform}-help")
    yield Market(app, FakePlatform("alpha", dedupes=True), FakePlatform("beta"))
    await app.close()
