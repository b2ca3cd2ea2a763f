"""Ads under an LLM chat, as a marimo app: `mo.ui.chat` with the ad of each reply under it.

Run it with `kontext-widget demo --marimo` (or `marimo run chat_demo_marimo.py`;
`marimo edit` to see the code). Offline by default: a LocalAdServer on 127.0.0.1
and a small built-in assistant. The same environment variables as the Jupyter
demo (`chat_demo.ipynb`) switch to production ads and a real model.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="kontext-widget chat demo")


@app.cell(hide_code=True)
def _(mo):
    mo.md(
        r"""
        # Ads under an LLM chat

        Each reply of this chat is added to a `kontext_widget` session with the
        question before it, and the ad for that reply is shown right under it.
        The table beside the chat is the session's live event log: `ad.filled`
        when a bid arrives, then `ad.render-started`, `ad.height`, `ad.viewed` once
        the ad is on screen, and `ad.clicked` when you click it.

        **Offline by default** (a local ad server on 127.0.0.1 and a built-in
        assistant). Set `KONTEXT_PUBLISHER_TOKEN` for production ads, and
        `OPENAI_API_KEY` (+ `OPENAI_BASE_URL`, `OPENAI_MODEL` for any
        OpenAI-compatible endpoint) for a real model. When `KONTEXT_AD_SERVER_URL`
        is set (by `kontext-widget demo`), that server is used.
        """
    )
    return


@app.cell
def _():
    import html
    import os

    import marimo as mo

    import kontext_widget as kw
    from kontext_widget.assistants import DemoAssistant, OpenAIChat

    return DemoAssistant, OpenAIChat, html, kw, mo, os


@app.cell
def _(DemoAssistant, OpenAIChat, kw, os):
    token = os.environ.get("KONTEXT_PUBLISHER_TOKEN", "")
    shared_server = os.environ.get("KONTEXT_AD_SERVER_URL", "")
    production = bool(token) and not shared_server

    # Offline: use the server `kontext-widget demo` started, else our own.
    server = None if production or shared_server else kw.LocalAdServer().start()
    session = kw.create_session(
        publisher_token=token or "demo-publisher",
        user_id="demo-user",
        conversation_id="demo-conversation",
        # None: $KONTEXT_AD_SERVER_URL, else production.
        ad_server_url=server.url if server else None,
    )
    if os.environ.get("OPENAI_API_KEY"):  # a real model, whichever ads
        assistant = OpenAIChat.from_env()
    else:
        assistant = DemoAssistant()  # the same answers every run
    ads_from = "Kontext (production)" if production else "a local ad server (offline)"
    return ads_from, assistant, session


@app.cell
def _(assistant, html, mo, session):
    def question_of(message):
        """The text of a chat message from `mo.ui.chat` (plain content, or text parts)."""
        if isinstance(message.content, str):
            return message.content
        parts = getattr(message, "parts", None) or []
        return "".join(getattr(part, "text", "") for part in parts)

    def reply_with_ad(messages, config=None):
        """The `mo.ui.chat` model: one chat turn of the session, and the reply with its ad.

        `chat_turn` adds the user message (the ad request starts at once), asks the
        assistant, adds the reply and waits briefly for the bid, so the ad is ready
        when the reply is shown, in marimo's light or dark theme. The reply is
        escaped: a model's output must never become markup.
        """
        turn = session.chat_turn(
            question_of(messages[-1]), assistant, display=False, theme=mo.app_meta().theme
        )
        reply = mo.md(html.escape(turn.assistant.content, quote=False))
        return mo.vstack([reply, turn.ad], gap=0.5)

    starter_prompts = [
        "I'm training for my first marathon. Which running shoes should I buy?",
        "Where should I go for a long weekend in Lisbon?",
        "Any tips for brewing coffee at home?",
    ]
    return reply_with_ad, starter_prompts


@app.cell
def _(ads_from, assistant, mo, reply_with_ad, session, starter_prompts):
    chat = mo.ui.chat(reply_with_ad, prompts=starter_prompts)
    event_log = session.event_log()
    # The log's tables are wider than its column: it scrolls sideways, the page does not.
    log_panel = mo.vstack(
        [
            mo.md(f"**Ad events** · ads from {ads_from} · {type(assistant).__name__}"),
            event_log,
        ]
    ).style({"overflow-x": "auto", "max-width": "40vw"})
    mo.hstack([chat, log_panel], widths=[3, 2], align="start", gap=1.5)
    return chat, event_log


if __name__ == "__main__":
    app.run()
