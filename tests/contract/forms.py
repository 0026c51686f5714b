"""Read an HTML page's form the way a browser would submit it, so a test can post the page's
own form (with its hidden version, management forms and defaults) with a few fields changed."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._select_multiple = False
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "fields": {},
            }
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        fields = self._form["fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields.setdefault(name, []).append(a.get("value", "on"))
                else:
                    fields.setdefault(name, [])
                return
            fields[name] = [a.get("value", "")]
        elif tag == "select" and name:
            self._select = name
            self._select_multiple = "multiple" in a
            self._first_option = None
            fields[name] = []
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                fields[self._select].append(value)
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = [""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            fields = self._form["fields"] if self._form else {}
            if not fields.get(self._select) and not self._select_multiple:
                fields[self._select] = [self._first_option or ""]
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            self._form["fields"][self._textarea][0] += data


def post_forms(html: str) -> list[dict[str, Any]]:
    """Every method="post" form on the page: its action and field → list of values."""
    parser = _FormParser()
    parser.feed(html)
    return [form for form in parser.forms if form["method"] == "post"]


def form_data(html: str, *, containing: str | None = None) -> dict[str, Any]:
    """The data a POST form would submit: the first with a field named `containing`, or else
    the one with the most fields (a page's main form, not the header's sign-out button).
    Values are lists, ready for the test client; a textarea's leading newline is dropped as
    browsers do."""
    forms = post_forms(html)
    if containing is not None:
        forms = [form for form in forms if containing in form["fields"]]
    if not forms:
        raise AssertionError(f"no POST form with a field {containing!r} on the page")
    form = max(forms, key=lambda form: len(form["fields"]))
    return {
        name: [v[1:] if v.startswith("\n") else v for v in values]
        for name, values in form["fields"].items()
    }
