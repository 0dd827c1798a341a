"""Rendering the dashboard's pages: the Jinja2 templates, their filters, and the links between
pages, live (served by the app) or static (the demo's snapshot, read from disk).

Charts are drawn in the browser by Chart.js (npm, served from ``node_modules``, no CDN) from the
page's JSON: fetched from the page's ``/api/...`` endpoint when served, embedded in the page in a
snapshot (a browser refuses ``fetch`` on ``file://``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

PACKAGE = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE / "static"
TEMPLATES_DIR = PACKAGE / "templates"
#: The checkout's npm packages (``make setup`` runs ``npm ci``): the package is installed editable.
NODE_MODULES = PACKAGE.parents[1] / "node_modules"
#: Served name -> path under node_modules.
VENDOR_FILES = {
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "chartjs-chart-matrix.min.js": "chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js",
}


def vendor_dir(node_modules: Path | None = None) -> Path:
    """The node_modules folder holding every vendored file.

    Raises:
        FileNotFoundError: a file is missing (``make setup`` runs ``npm ci``).
    """
    folder = node_modules or NODE_MODULES
    for relative in VENDOR_FILES.values():
        if not (folder / relative).is_file():
            raise FileNotFoundError(f"{folder / relative} is missing: run `make setup` (npm ci installs Chart.js)")
    return folder


@dataclass(frozen=True)
class Links:
    """Where a page links to: ``root`` is the site's root as seen from the page, ``suffix`` what
    a static snapshot appends to a page's file name."""

    root: str = "/"
    suffix: str = ""

    def page(self, kind: str, key: str | int = "") -> str:
        if kind == "network":
            return self.root + ("index.html" if self.suffix else "")
        if kind == "rewards":
            return self.root + "rewards" + self.suffix
        return f"{self.root}{kind}/{key}{self.suffix}"

    def static(self, name: str) -> str:
        return f"{self.root}static/{name}"

    def vendor(self, name: str) -> str:
        return f"{self.root}vendor/{name}"

    @property
    def live(self) -> bool:
        return not self.suffix


LIVE = Links()


def amount(value: Decimal | int | float | None, places: int = 4) -> str:
    """``1234.5678901`` -> ``1,234.5679``; trailing zeros dropped; ``-`` for None."""
    if value is None:
        return "-"
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    text = f"{number:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def short(value: str) -> str:
    """``0x1234...abcd`` for an address or hash."""
    return f"{value[:6]}…{value[-4:]}" if len(value) > 14 else value


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


def percent(bps: int) -> str:
    return f"{bps / 100:.2f} %"


def _json(model: Any) -> Markup:
    """A model as JSON safe inside ``<script type="application/json">``."""
    text = model.model_dump_json() if hasattr(model, "model_dump_json") else json.dumps(model)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(amount=amount, short=short, when=when, percent=percent, tojson_model=_json)


def render(template: str, **context: Any) -> str:
    """A page: `template` with `model` (the page's data), `title`, `links` and `api` (the JSON
    endpoint its charts fetch when served; a snapshot embeds the JSON instead)."""
    context.setdefault("status", 200)
    context.setdefault("reason", "")
    return _env.get_template(template).render(**context)
