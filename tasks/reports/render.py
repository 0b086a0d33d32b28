"""One Jinja2 environment for every shopguard page (autoescaped, strict about missing names)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda x, digits=1: "-" if x is None else f"{100 * x:.{digits}f}%"
    env.filters["thousands"] = lambda x: "-" if x is None else f"{x:,}"
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
