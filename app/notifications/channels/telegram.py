"""Telegram (Bot API sendMessage): the summary as plain text to one chat. The subscription's URL is
the Bot API's base (https://api.telegram.org), its secret the bot token (in the request path, as the
Bot API wants), `options.chat_id` the chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from app.notifications.channels.base import Delivery, HttpChannel, HttpRequest
from app.notifications.channels.googlechat import plain_text
from app.notifications.messages import cut
from app.notifications.senders import Outcome

if TYPE_CHECKING:
    from app.notifications.senders import Senders

TEXT_MAX = 4096  # Telegram: message text


class TelegramOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chat_id: str = Field(pattern=r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{5,32})$", description="a chat id or @channel")


class Telegram(HttpChannel):
    kind = "telegram"
    label = "Telegram (Bot API)"
    signs = False  # the secret is the bot token
    Options = TelegramOptions
    secret_required = "a telegram subscription needs the bot token as secret"

    def body(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "chat_id": delivery.options["chat_id"],
            "text": cut(plain_text(delivery.message()), TEXT_MAX),
            "disable_web_page_preview": True,
        }

    async def send(self, rendered: HttpRequest, delivery: Delivery, senders: Senders) -> Outcome:
        assert delivery.url is not None and delivery.secret is not None
        url = f"{delivery.url.rstrip('/')}/bot{delivery.secret}/sendMessage"
        outcome = await senders.post(url, rendered.body, rendered.headers, delivery.allow_private)
        # The token is in the URL: an error naming the URL must not carry it into the delivery log.
        if outcome.error:
            outcome.error = outcome.error.replace(delivery.secret, "<bot token>")
        return outcome


CHANNEL = Telegram()
