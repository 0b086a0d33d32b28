"""An offline index of the Data Docs (reports/data_docs.html): every suite's result per day, linked.

GX's own index page draws its table with bootstrap-table from CDNs, so without network it shows
nothing; its per-validation pages are plain HTML tables and read fine offline. This page lists
them from the files GX wrote: the result pages under reports/data_docs/validations/ and, for
pass/fail, the matching result JSON in GX's store (data/gx/uncommitted/validations/).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from tasks.layout import DataLayout
from tasks.parquet_io import write_text_atomic
from tasks.reports.render import render


class SuiteResult(BaseModel):
    suite: str
    day: date
    href: str  # relative to reports/
    success: bool | None  # None when GX's result JSON is not there


def _gx_validations(layout: DataLayout) -> Path:
    return layout.root / "gx" / "uncommitted" / "validations"


def suite_results(layout: DataLayout) -> list[SuiteResult]:
    """The newest result page of each (suite, day), newest day first. Run names are ISO dates."""
    pages = layout.data_docs / "validations"
    latest: dict[tuple[str, date], Path] = {}
    for page in sorted(pages.glob("*/*/*/*.html")):
        suite, run = page.relative_to(pages).parts[:2]
        try:
            day = date.fromisoformat(run)
        except ValueError:  # a run not named by its day (a manual GX run): not part of the daily story
            continue
        latest[(suite, day)] = page  # sorted, so the last timestamp wins
    results = []
    for (suite, day), page in latest.items():
        stored = (_gx_validations(layout) / page.relative_to(pages)).with_suffix(".json")
        success = json.loads(stored.read_text(encoding="utf-8")).get("success") if stored.exists() else None
        results.append(SuiteResult(suite=suite, day=day, href=page.relative_to(layout.reports).as_posix(),
                                   success=success))
    return sorted(results, key=lambda r: (-r.day.toordinal(), r.suite))


def write_data_docs_index(layout: DataLayout) -> list[SuiteResult]:
    results = suite_results(layout)
    write_text_atomic(layout.reports / "data_docs.html", render("data_docs.html.j2", results=results))
    return results
