"""The versioned suites in expectations/*.json: loading them, and reading the contract they state.

The JSON files are the source of truth (reviewed, versioned with ``meta.version``). Each
expectation carries ``meta.level``: "batch" (a failure stops the day) or "row" (failing rows are
quarantined). Everything that checks data before Great Expectations runs (column set, types) is
read from the same suite, so the contract is written down exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"


@dataclass(frozen=True)
class SuiteSpec:
    """One suite as stored in expectations/NAME.json."""

    name: str
    version: str
    expectations: tuple[dict[str, Any], ...]
    meta: dict[str, Any]

    def without(self, types: Iterable[str]) -> SuiteSpec:
        """A copy without the expectations of the given types (e.g. a check with no data to compare)."""
        drop = set(types)
        kept = tuple(e for e in self.expectations if e["type"] not in drop)
        return SuiteSpec(self.name, self.version, kept, self.meta)

    def split_by_engine(self) -> tuple[SuiteSpec, SuiteSpec]:
        """(what GX runs, what pyarrow runs): ``meta.engine: "pyarrow"`` picks the second."""
        arrow = tuple(e for e in self.expectations if (e.get("meta") or {}).get("engine") == "pyarrow")
        gx = tuple(e for e in self.expectations if e not in arrow)
        return (SuiteSpec(self.name, self.version, gx, self.meta),
                SuiteSpec(self.name, self.version, arrow, self.meta))

    def columns_used(self) -> list[str]:
        """The columns the expectations name (as their column or in a row condition), in first-use order."""
        used: dict[str, None] = {}
        for e in self.expectations:
            kwargs = e.get("kwargs", {})
            for name in [kwargs.get("column"), *kwargs.get("column_list", []),
                         ((kwargs.get("row_condition") or {}).get("column") or {}).get("name")]:
                if name:
                    used[name] = None
        return list(used)

    def column_set(self) -> list[str]:
        for e in self.expectations:
            if e["type"] == "expect_table_columns_to_match_set":
                return list(e["kwargs"]["column_set"])
        raise ValueError(f"suite {self.name} has no expect_table_columns_to_match_set")

    def optional_columns(self) -> dict[str, str]:
        """Columns of the set a batch may lack (read as all-null), with their Arrow type alias."""
        for e in self.expectations:
            if e["type"] == "expect_table_columns_to_match_set":
                return dict(e.get("meta", {}).get("optional_columns", {}))
        return {}

    def column_types(self) -> dict[str, str]:
        """Column -> the exact dtype its ``expect_column_type_to_be`` demands."""
        return {e["kwargs"]["column"]: e["kwargs"]["type_"]
                for e in self.expectations if e["type"] == "expect_column_type_to_be"}


def load_suite(name: str, directory: Path = EXPECTATIONS_DIR) -> SuiteSpec:
    path = directory / f"{name}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    return suite_from_dict(doc)


def suite_from_dict(doc: Mapping[str, Any]) -> SuiteSpec:
    meta = dict(doc.get("meta", {}))
    if "version" not in meta:
        raise ValueError(f"suite {doc.get('name')!r} has no meta.version")
    for e in doc["expectations"]:
        if expectation_level(e) not in ("batch", "row"):
            raise ValueError(f"suite {doc['name']}: {expectation_label(e)} has no meta.level batch/row")
    return SuiteSpec(doc["name"], str(meta["version"]), tuple(doc["expectations"]), meta)


def expectation_level(expectation: Mapping[str, Any]) -> str | None:
    return (expectation.get("meta") or {}).get("level")


def expectation_label(expectation: Mapping[str, Any]) -> str:
    """How a reason names an expectation: ``type(column)``, ``type(column if condition)``, ``type``."""
    kwargs = expectation.get("kwargs", {})
    column = kwargs.get("column")
    if column is None:
        return expectation["type"]
    condition = kwargs.get("row_condition")
    if condition:
        return f"{expectation['type']}({column} if {describe_condition(condition)})"
    return f"{expectation['type']}({column})"


def describe_condition(condition: Any) -> str:
    """A short human form of a GX row condition (as stored in the suite JSON)."""
    if isinstance(condition, Mapping):
        column = (condition.get("column") or {}).get("name", "?")
        if condition.get("type") == "nullity":
            return f"{column} is {'null' if condition.get('is_null') else 'set'}"
        if condition.get("type") == "comparison":
            parameter = condition.get("parameter")
            if isinstance(parameter, list):
                parameter = "/".join(map(str, parameter))
            return f"{column} {condition.get('operator', '?').lower()} {parameter}"
    return str(condition)


def to_gx_suite(spec: SuiteSpec):
    """A ``great_expectations.ExpectationSuite`` built from the spec (GX imported lazily)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectations, seen = [], set()
    for e in spec.expectations:
        # The suite is a set: GX's add_expectation drops an equal one, comparing every pair (seconds
        # for 149 expectations), so duplicates are dropped here and the list goes in at once.
        key = json.dumps([e["type"], e["kwargs"]], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        # The label rides along in meta so results can be named without re-deriving it.
        meta = {**e.get("meta", {}), "label": expectation_label(e)}
        expectations.append(ExpectationConfiguration(type=e["type"], kwargs=dict(e["kwargs"]), meta=meta).to_domain_obj())
    return gx.ExpectationSuite(name=spec.name, expectations=expectations, meta={**spec.meta, "version": spec.version})
