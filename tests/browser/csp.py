"""Watching a page for Content-Security-Policy violations, as the browser reports them."""

from playwright.sync_api import Page


def csp_violations(page: Page) -> list[str]:
    """A list that fills, while the page lives, with every CSP violation Chromium reports on its console,
    each as "<page url>: <message>"."""
    violations: list[str] = []

    def note(message):
        if "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", note)
    return violations
