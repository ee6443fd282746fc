"""Message bodies: user text in a Teams Adaptive Card is shown as typed, never as Markdown."""

import html

import pytest

from app.notifications.channels.teams import teams_body
from app.notifications.messages import Message

markdown_it = pytest.importorskip("markdown_it")

HOSTILE = [
    "[Reset your password](https://evil.example/login)",
    "**urgent** _now_ ~~gone~~ `code`",
    "# Heading\n\n- item\n+ item\n1. first\n2) second\n> quote",
    "![pixel](https://evil.example/t.png) <b>raw</b> back\\slash | table |",
    "plain text with 3.5 % and a-b",
]


def _card_texts(message: Message) -> list[str]:
    body = teams_body(message)["attachments"][0]["content"]["body"]
    texts = [block["text"] for block in body if block["type"] == "TextBlock"]
    return texts + [fact["value"] for block in body if block["type"] == "FactSet" for fact in block["facts"]]


@pytest.mark.parametrize("user_text", HOSTILE)
def test_teams_cards_show_user_text_literally(user_text):
    """Rendered as CommonMark (what Adaptive Cards implement), each escaped text is one paragraph
    whose visible text is exactly what the user typed: no link, image, emphasis, list or heading."""
    parser = markdown_it.MarkdownIt("commonmark").enable("strikethrough")
    for text in _card_texts(Message(user_text, user_text, "bad", [("Services", user_text)])):
        rendered = parser.render(text)
        for tag in ("<a ", "<img", "<em>", "<strong>", "<s>", "<code>", "<li>", "<h1>", "<blockquote>", "<b>"):
            assert tag not in rendered, (text, rendered)
        visible = html.unescape(rendered.replace("<p>", "").replace("</p>", "").replace("<br />", ""))
        assert " ".join(visible.split()) == " ".join(user_text.split())
