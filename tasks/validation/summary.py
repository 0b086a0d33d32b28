"""What one day's validation decided, as a record (status JSON) and as Markdown (Prefect artifact)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class ValidationSummary(BaseModel):
    day: date
    rows_in: int = 0
    rows_validated: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = Field(default_factory=dict, description="expectation -> rows it caught")
    stopped: bool = False
    reason: str | None = Field(None, description="one line: why the day was stopped")
    failed_expectations: list[str] = Field(default_factory=list)
    volume_check: str = ""
    suite_version: str = ""
    data_docs: str | None = Field(None, description="Data Docs page of this validation")

    @property
    def bad_row_share(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0

    def status_payload(self) -> dict[str, Any]:
        """The ``validation`` section of reports/runs/date=D.json."""
        return self.model_dump(mode="json", exclude={"day"})

    def one_line(self) -> str:
        if self.stopped:
            return f"validation stopped {self.day}: {self.reason}"
        return (f"validation passed {self.day}: {self.rows_in} rows in, {self.rows_validated} validated, "
                f"{self.rows_quarantined} quarantined")


def summary_markdown(summary: ValidationSummary) -> str:
    verdict = "**STOPPED**" if summary.stopped else "passed"
    lines = [f"# Validation {summary.day}: {verdict}", ""]
    if summary.stopped:
        lines += [f"> {summary.reason}", "",
                  f"Rows in: {summary.rows_in}. Nothing was written and nothing downstream runs for this day; "
                  "earlier outputs are untouched.", ""]
    else:
        lines += [
            "| rows in | validated | quarantined | bad-row share |",
            "|---:|---:|---:|---:|",
            f"| {summary.rows_in} | {summary.rows_validated} | {summary.rows_quarantined} | {summary.bad_row_share:.2%} |",
            "",
        ]
    lines += [
        f"Volume check: {summary.volume_check or 'not reached'}. Suite raw_events v{summary.suite_version or '?'}.",
        "",
    ]
    if summary.quarantine_reasons:
        lines += ["| row expectation failed | rows |", "|---|---:|"]
        lines += [f"| `{label}` | {n} |" for label, n in summary.quarantine_reasons.items()]
        lines.append("")
    if summary.failed_expectations:
        lines += ["Failed expectations: " + ", ".join(f"`{e}`" for e in summary.failed_expectations), ""]
    if summary.data_docs:
        lines.append(f"[Data Docs for this validation](file://{summary.data_docs})")
    return "\n".join(lines)
