"""Browser contexts and pages for the tests, each page logged for failure reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
# The screen differs from the viewport on purpose: the browser facts test can
# then tell `screen.width` (what must reach /preload) from `innerWidth`.
VIEWPORT = {"width": 1280, "height": 1000}
SCREEN = {"width": 1920, "height": 1200}


@dataclass
class PageLog:
    """Console messages and uncaught errors of one page, kept for failure reports."""

    label: str
    page: Any
    lines: list[str] = field(default_factory=list)

    def attach(self) -> None:
        self.page.on("console", lambda m: self.lines.append(f"console.{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.lines.append(f"pageerror: {e}"))
        self.page.on(
            "requestfailed",
            lambda r: self.lines.append(f"requestfailed: {r.method} {r.url} {r.failure}"),
        )


@dataclass
class BrowserTab:
    """A fresh browser context for one test, with its pages logged for failure reports."""

    context: Any
    logs: list[PageLog]

    def new_page(self, label: str = "page") -> Any:
        page = self.context.new_page()
        self.track(page, label)
        return page

    def track(self, page: Any, label: str) -> None:
        """Log ``page``; a page already logged (the context's "page" event fires for
        ``new_page`` too) only gets the more telling label."""
        for log in self.logs:
            if log.page is page:
                log.label = label
                return
        log = PageLog(label, page)
        log.attach()
        self.logs.append(log)

    def page_errors(self) -> list[str]:
        """Uncaught exceptions of every page of this context so far."""
        return [line for log in self.logs for line in log.lines if line.startswith("pageerror:")]

    def track_opened(self, page: Any) -> None:
        if all(log.page is not page for log in self.logs):
            self.track(page, f"opened{len(self.logs)}")


def new_tab(browser: Any) -> BrowserTab:
    context = browser.new_context(viewport=VIEWPORT, screen=SCREEN, device_scale_factor=1)
    context.set_default_timeout(15_000)
    tab = BrowserTab(context, [])
    # Pages the page opens (ad clicks) are logged too.
    context.on("page", tab.track_opened)
    return tab
