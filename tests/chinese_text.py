"""Does a Chinese page show English? The checker the page tests share (server-rendered and JS-drawn).

A page's visible text is its text nodes outside <script>, <style> and <template>, plus what the
browser shows from attributes: ``title``, ``placeholder``, ``aria-label``, ``alt`` and the value of
a button-like ``<input>``. An id a page shows on purpose is marked as code (``<code>``, ``<kbd>``,
``<samp>`` or ``translate="no"``: a process key for its designer, a group id for the admin) and is
not language; ``identifiers_shown`` lists those, which an operator's page must not show at all.
A Latin word in the rest is a finding unless it is a proper name (the allow-list: systems,
products, standards), an id a person needs (business keys such as XQ-2026-0001, file names,
e-mail addresses, user names given by the test) or a unit.

``latin_words(texts)`` gives the findings; ``page_texts(page)`` collects the same texts from a
Playwright page after its scripts have drawn, so a browser test runs the same check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

# Names and abbreviations a Chinese page may show as they are.
PROPER_NAMES = frozenset("""
TowerFlow PMS EOMS BOSS SMS DDN SDH ATM MPLS VPN MPLS-VPN xDSL LAN WAN ICT IT PDF Excel BPMN DMN XML JSON
API CSV XLSX xlsx ID IP GPS NGN ISO FEEL SLA PNG JPEG JPG GIF WebP TIFF UTF UTF-8 SpiffWorkflow bpmn-js
ECharts Python OpenAPI HTTP HTTPS URL QR Wi-Fi IoT AAA VIP CNY IDC CDN IPTV OTN PON FTTH ONU OLT SIM UTC ZIP zip
""".split())
UNITS = frozenset("MB KB GB TB B Mbps Gbps kbps Kbps M G km m kg h min s ms px".split())
ALLOWED_PATTERNS = (
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+",                    # e-mail addresses
    r"https?://\S+",                                   # addresses
    r"\b[A-Z]{2,5}(-[A-Z0-9]+)*-\d[\w-]*",            # business keys: XQ-2026-0001, GZ-DEMO-0001, HT-...
    r"\b[\w.-]+\.(bpmn|dmn|xlsx|xls|csv|pdf|png|jpe?g|json|xml)\b",  # file names
    r"\bv\d+(\.\d+)*\b",                               # versions: v3
    r"\b\d+(\.\d+)?\s*[A-Za-z]{1,4}\b",               # numbers with units: 10 MB, 3h, 150m
    r"#\d+",                                           # instance numbers
    r"\bP(\d+[YMWD])*(T(\d+[HMS])+)?\b",              # ISO 8601 durations: P2D, PT30M
    r'"[^"\s]{1,20}"|\bin \(',                         # a literal or operator in a code example: "group", in (
    r"Powered by bpmn\.io",                             # the watermark bpmn-js's licence requires
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
BUTTON_INPUTS = ("submit", "button", "reset")


HIDDEN = ("script", "style", "template")
IDENTIFIERS = ("code", "kbd", "samp")  # an id shown on purpose, as code (a process key for its designer)
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.identifiers: list[str] = []
        self._open: list[str] = []  # HIDDEN or IDENTIFIERS elements (and translate="no" ones) now open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in VOID and (tag in HIDDEN or tag in IDENTIFIERS or values.get("translate") == "no"):
            self._open.append(tag)
            if tag not in HIDDEN and not self._hidden():
                self.identifiers.append("")
            return
        if self._open:
            return
        for name in SHOWN_ATTRIBUTES:
            if values.get(name):
                self.texts.append(values[name])
        if tag == "input" and (values.get("type") or "").lower() in BUTTON_INPUTS and values.get("value"):
            self.texts.append(values["value"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._open:
            values = dict(attrs)
            for name in SHOWN_ATTRIBUTES:
                if values.get(name):
                    self.texts.append(values[name])
            if tag == "input" and (values.get("type") or "").lower() in BUTTON_INPUTS and values.get("value"):
                self.texts.append(values["value"])

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        if not self._open:
            self.texts.append(data.strip())
        elif not self._hidden():
            self.identifiers[-1] += data.strip()

    def _hidden(self) -> bool:
        return any(tag in HIDDEN for tag in self._open)


def _parsed(html: str) -> _VisibleText:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser


def visible_texts(html: str) -> list[str]:
    """The texts a reader sees on a server-rendered page (before any script runs), ids shown as code left out."""
    return _parsed(html).texts


def identifiers_shown(html: str) -> list[str]:
    """The ids a page shows as code (``<code>``, ``translate="no"``): fine for a designer, not for an operator."""
    return [text for text in _parsed(html).identifiers if text]


def latin_words(texts: Iterable[str], allow: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Each (word, the text it was found in) that a Chinese page should not show."""
    allowed = PROPER_NAMES | UNITS | set(allow)
    found: list[tuple[str, str]] = []
    for text in texts:
        cleaned = text
        for pattern in ALLOWED_PATTERNS:
            cleaned = re.sub(pattern, " ", cleaned)
        for word in WORD.findall(cleaned):
            if word in allowed or word.upper() in PROPER_NAMES or _is_id_like(word):
                continue
            found.append((word, text.strip()[:160]))
    return found


def _is_id_like(word: str) -> bool:
    """A single letter (axis, option letter) or a code with digits in it (A1, 4G, 5G, NB-IoT-2)."""
    return len(word) == 1 or any(c.isdigit() for c in word)


def english_on_page(html: str, allow: Iterable[str] = ()) -> list[tuple[str, str]]:
    return latin_words(visible_texts(html), allow)


# What a Playwright page shows now: rendered text plus the shown attributes, after scripts have run.
PAGE_TEXTS_JS = """() => {
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, template, noscript, code, kbd, samp, [translate=no]')) continue;
    const style = getComputedStyle(parent);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (node.textContent.trim()) texts.push(node.textContent.trim());
  }
  const shown = '[title], [placeholder], [aria-label], [alt], input[type=submit], input[type=button]';
  for (const el of document.body.querySelectorAll(shown)) {
    for (const name of ['title', 'placeholder', 'aria-label', 'alt']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) texts.push(value.trim());
    }
    if (el.matches('input[type=submit], input[type=button]') && el.value) texts.push(el.value);
  }
  for (const svgText of document.body.querySelectorAll('svg text')) {
    if (svgText.textContent.trim()) texts.push(svgText.textContent.trim());
  }
  return texts;
}"""


def page_texts(page) -> list[str]:
    """The texts a Playwright page shows at this moment (call it after waiting for what you expect)."""
    return page.evaluate(PAGE_TEXTS_JS)
