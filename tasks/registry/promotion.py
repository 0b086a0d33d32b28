"""The champion/challenger gate: a pure decision plus the registry glue that records it.

Rules (in order):
1. No champion yet: the challenger becomes champion (the first model always serves).
2. The champion cannot score the held-out window (e.g. a feature schema change): promote.
3. The held-out window has no labels: keep the champion; there is no fair comparison and the
   label-free objective is not comparable across models. ``shopguard promote`` overrides.
4. The challenger's alert rate exceeds ``max_alert_rate``: refuse (on-call could not keep up).
5. The challenger must beat the champion's objective by at least ``margin``; otherwise refuse.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from tasks.errors import ShopguardError, first_line
from tasks.registry.contract import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from tasks.registry.inputs import signature_inputs
from tasks.registry.repair import APPLIED_TAG
from tasks.scoring.champion import ChampionIncompatible, load_version_model
from tasks.scoring.scoring import served_threshold
from tasks.settings import Settings
from tasks.tracking import mlflow_client
from tasks.training.metrics import OBJECTIVE_METRIC, validation_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateScore:
    """One model's standing on the held-out window: the objective (NaN without labels) and alert rate."""

    objective: float
    alert_rate: float


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    challenger_score: float
    champion_score: float | None

    @property
    def label(self) -> str:
        return "promoted" if self.promote else "rejected"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def decide_promotion(challenger: GateScore, champion: GateScore | None, margin: float, max_alert_rate: float,
                     champion_error: str | None = None) -> Decision:
    """Apply the gate's rules (module doc) to two scores on the same held-out window."""
    if champion is None and champion_error is None:
        note = "" if challenger.alert_rate <= max_alert_rate else (
            f"; warning: alert rate {challenger.alert_rate:.2%} exceeds {max_alert_rate:.2%}")
        return Decision(True, f"first model: no champion yet{note}", challenger.objective, None)
    if champion_error is not None:
        return Decision(True, f"champion cannot score the held-out window ({champion_error})",
                        challenger.objective, None)
    assert champion is not None
    if math.isnan(challenger.objective):
        return Decision(False, "held-out window has no usable labels: champion kept (promote manually to override)",
                        challenger.objective, champion.objective)
    if challenger.alert_rate > max_alert_rate:
        return Decision(False, f"challenger alert rate {challenger.alert_rate:.2%} exceeds the bound {max_alert_rate:.2%}",
                        challenger.objective, champion.objective)
    needed = (champion.objective if not math.isnan(champion.objective) else -math.inf) + margin
    verdict = (f"challenger {_fmt(challenger.objective)} vs champion {_fmt(champion.objective)} "
               f"(margin {margin:g})")
    if challenger.objective >= needed:
        return Decision(True, f"{verdict}: challenger wins", challenger.objective, champion.objective)
    return Decision(False, f"{verdict}: not better by the margin", challenger.objective, champion.objective)


def gate_score(scores: np.ndarray, threshold: float, labels: np.ndarray | None, k: int,
               budget_rate: float) -> GateScore:
    # Both models are judged at the same operating point (the alert budget) on the same rows.
    metrics = validation_metrics(labels, scores, threshold, k, budget_rate)
    return GateScore(objective=metrics.get(OBJECTIVE_METRIC, math.nan), alert_rate=metrics["alert_rate"])


def score_champion(settings: Settings, version: ModelVersion, features: pd.DataFrame, labels: np.ndarray | None,
                   k: int, budget_rate: float) -> tuple[GateScore | None, str | None]:
    """Load the champion from the registry and score it on the challenger's held-out window.

    Returns (score, None), or (None, why) when the champion genuinely cannot score these features
    (its code refuses its files, or the features no longer fit it). A champion whose files cannot
    be fetched right now raises (one line): the gate must not promote because of an outage.
    """
    try:
        model = load_version_model(settings, version)
    except ChampionIncompatible as exc:
        return None, str(exc)
    except ShopguardError as exc:
        raise ShopguardError(f"promotion gate not run: champion version {version.version} is unavailable "
                             f"({exc}); the old champion keeps serving") from exc
    try:
        threshold = served_threshold(model)
        out = model.predict(signature_inputs(model, features))
    except (MlflowException, ValueError, KeyError) as exc:
        return None, f"{type(exc).__name__}: {first_line(exc)}"
    return gate_score(out["anomaly_score"].to_numpy(), threshold, labels, k, budget_rate), None


def current_champion(client: MlflowClient, model_name: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def decision_tags(decision: Decision, objective_name: str) -> dict[str, str]:
    return {
        "promotion_reason": decision.reason,
        "challenger_score": _fmt(decision.challenger_score),
        "champion_score": _fmt(decision.champion_score),
        "gate_objective": objective_name,
        "promotion_decision": decision.label,
    }


def _move_aliases(client: MlflowClient, name: str, version: str, promote: bool,
                  previous_champion: str | None) -> None:
    """The last step of a decision: challenger, then previous-champion, then champion itself.

    Called only after the decision is recorded, so a failure before it leaves the old champion
    serving. Champion moves last: a crash between two moves leaves previous-champion on the
    still-serving champion (a harmless no-op rollback), never a champion without its record.
    """
    client.set_registered_model_alias(name, CHALLENGER, version)
    if not promote:
        return
    if previous_champion is not None and previous_champion != version:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, previous_champion)
    client.set_registered_model_alias(name, CHAMPION, version)


def _record_tags(client: MlflowClient, name: str, version: str, tags: dict[str, str], description: str,
                 run_id: str | None = None) -> None:
    """Details and description first, ``promotion_decision`` last: a half-written record has none."""
    client.update_model_version(name, version, description=description)
    ordered = sorted(tags.items(), key=lambda item: item[0] == "promotion_decision")
    for key, value in ordered:
        client.set_model_version_tag(name, version, key, value)
        if run_id is not None:
            client.set_tag(run_id, key, value)


def record_decision(settings: Settings, version: str, decision: Decision, parent_run_id: str,
                    objective_name: str, previous_champion: str | None) -> None:
    """Tag the version and the run with the decision, describe it, and only then move the aliases."""
    client = mlflow_client(settings)
    name = settings.registered_model_name
    tags = decision_tags(decision, objective_name)
    if previous_champion is not None:
        tags["previous_champion"] = previous_champion
    _record_tags(client, name, version, tags, f"{decision.label}: {decision.reason}", parent_run_id)
    _move_aliases(client, name, version, decision.promote, previous_champion)
    client.set_model_version_tag(name, version, APPLIED_TAG, "true")  # see tasks.registry.repair
    log.info("version %s %s: %s", version, decision.label, decision.reason)


def promote_manually(settings: Settings, version: str | None, reason: str) -> tuple[str, str | None]:
    """Make ``version`` the champion regardless of the gate (``None``: roll back to previous-champion).

    Returns (the new champion, the version it replaced). The caller holds the retrain guard.
    """
    client = mlflow_client(settings)
    name = settings.registered_model_name
    if version is None:
        try:
            version = str(client.get_model_version_by_alias(name, PREVIOUS_CHAMPION).version)
        except MlflowException:
            raise ShopguardError(f"model {name} has no {PREVIOUS_CHAMPION!r} alias in {settings.tracking_uri}: "
                                 f"nothing to roll back to (promote --version N instead)") from None
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise ShopguardError(f"model {name} has no version {version} in {settings.tracking_uri}") from None
    previous = current_champion(client, name)
    previous_version = str(previous.version) if previous is not None else None
    tags = {"promotion_reason": reason, "promotion_decision": "manual"}
    if previous_version is not None:
        tags["previous_champion"] = previous_version
    _record_tags(client, name, version, tags, f"manual promotion: {reason}")
    if previous_version != version:
        if previous_version is not None:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, previous_version)
        client.set_registered_model_alias(name, CHAMPION, version)
    log.info("version %s is now champion (was %s): %s", version, previous_version or "none", reason)
    return version, previous_version
