"""The Great Expectations file project under the data root, and running one suite through it.

The project (data/gx/) is scratch space GX needs: suites are copied in from expectations/ on every
run, so the repo is never written to at run time. Each run goes through a Checkpoint whose
UpdateDataDocsAction refreshes the Data Docs site under reports/data_docs/.
"""

from __future__ import annotations

import errno
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.validation.suites import SuiteSpec, to_gx_suite

DOCS_SITE = "shopguard"
# The index page loads every listed validation result on each refresh; cap it so a year of
# daily runs stays fast (about a month of days, two suites a day). Older pages stay on disk.
DOCS_INDEX_RESULTS = 62
DATASOURCE = "shopguard_frames"
DOCS_LOGGER = "great_expectations.render.renderer.site_builder"  # where GX reports a page it could not write


@dataclass(frozen=True)
class SuiteRun:
    """One suite's validation result and the Data Docs page that shows it."""

    result: Any  # great_expectations ExpectationSuiteValidationResult
    docs_page: Path | None


def open_project(project_root: Path, docs_dir: Path):
    """A file-mode GX context in ``project_root``/gx whose one Data Docs site is ``docs_dir``."""
    import great_expectations as gx

    project_root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(project_root))
    settings_changed = False
    if context.variables.progress_bars != {"globally": False}:
        context.variables.progress_bars = {"globally": False}
        settings_changed = True
    if context.variables.analytics_enabled is not False:
        context.variables.analytics_enabled = False
        settings_changed = True
    if settings_changed:
        context.variables.save()
    site = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "validation_results_limit": DOCS_INDEX_RESULTS},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
    }
    sites = context.get_site_names()
    if DOCS_SITE not in sites:
        context.add_data_docs_site(DOCS_SITE, site)
    elif context.variables.data_docs_sites[DOCS_SITE] != site:
        context.update_data_docs_site(DOCS_SITE, site)
    for stray in set(sites) - {DOCS_SITE}:  # the scaffolded local_site would double the docs work
        context.delete_data_docs_site(stray)
    return context


def run_suite(context, spec: SuiteSpec, frame: pd.DataFrame, parameters: dict[str, Any], run_name: str,
              data_docs: bool = True) -> SuiteRun:
    """Validate ``frame`` with ``spec`` (COMPLETE results: failing rows by index) and refresh Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    asset = next((a for a in source.assets if a.name == spec.name), None) or source.add_dataframe_asset(spec.name)
    batch = next((b for b in asset.batch_definitions if b.name == "whole_frame"), None) \
        or asset.add_batch_definition_whole_dataframe("whole_frame")
    suite = context.suites.add_or_update(to_gx_suite(spec))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=spec.name, data=batch, suite=suite))
    actions = [UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])] if data_docs else []
    checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
        name=spec.name, validation_definitions=[definition], actions=actions,
        result_format={"result_format": "COMPLETE"}))
    with _without_frame_fingerprint(), _docs_errors_raised():
        outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters,
                                 run_id=RunIdentifier(run_name=run_name))
    identifier, result = next(iter(outcome.run_results.items()))
    return SuiteRun(result=result, docs_page=_docs_page(context, identifier) if data_docs else None)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _docs_errors_raised():
    """GX's site builder catches any error while writing a Data Docs page and only logs it, so a
    full disk would leave a truncated page behind a run that reports success. Its log is the only
    signal GX gives; the error is raised here (ENOSPC as an OSError, so the caller's disk-full
    line applies)."""
    collector = _Collect()
    logger = logging.getLogger(DOCS_LOGGER)
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    if collector.messages:
        message = collector.messages[0]
        if "No space left on device" in message or "Errno 28" in message:
            raise OSError(errno.ENOSPC, "no space left while writing Data Docs")
        raise RuntimeError(f"Data Docs could not be written: {message.splitlines()[0][:300]}")


@contextmanager
def _without_frame_fingerprint():
    """Skip GX's md5 of the whole frame (a batch marker, ``pandas_data_fingerprint``, read by
    nobody here). GX hashes every frame under 1 GB in memory: on a 1M-event day that hash cost
    more than all row checks together, and a 9M-event day paid it while a 10M one did not."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = threshold


def _docs_page(context, identifier) -> Path | None:
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
    url = urls[0].get("site_url") if urls else None
    if not url or not url.startswith("file://"):
        return None
    return Path(url.removeprefix("file://"))
