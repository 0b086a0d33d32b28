"""Optuna sweep over detector families and their hyperparameters (TPE, median pruning).

Pruning is on the objective the sweep maximises: each trial is first fitted on a seeded
``RUNG_SHARE`` of the fit rows and judged on the full held-out days (rung 0); a trial whose rung
objective is below the median of earlier trials' is pruned before its full fit. (Pruning on a
torch detector's training loss would favour codes wide enough to reconstruct anomalies too.)
Every family reports the same objective, so the median compares across families. A pruned trial
is recorded with its rung metrics.

The study only proposes parameters and collects objectives; the work of a trial is the pure
``evaluate_trial``. Trials run in ``n_jobs`` threads here; since a trial needs nothing but its
(name, params, data), swapping the thread pool for a Dask cluster means submitting
``evaluate_trial`` to it and telling the study (``study.ask``/``study.tell``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

from tasks.errors import ShopguardError
from tasks.training.objective import TrialData, TrialResult, evaluate_trial, model_kind
from tasks.training.search_space import suggest_params

log = logging.getLogger(__name__)

# Called once per finished trial: (trial number, detector, params, result or None, state, error).
TrialRecorder = Callable[[int, str, dict[str, Any], TrialResult | None, str, str | None], None]
TRIAL_ERRORS = (ValueError, FloatingPointError, ArithmeticError, RuntimeError, MemoryError)
RUNG_SHARE = 0.3


@dataclass
class SweepOutcome:
    best: TrialResult
    objective_name: str
    states: dict[str, int] = field(default_factory=dict)
    # The best complete trial of each kind (label-aware / label-free), for the model card's "why".
    best_by_kind: dict[str, TrialResult] = field(default_factory=dict)


def _selection_key(result: TrialResult) -> tuple[float, float]:
    # Ties in the objective (recall at the budget counts whole users) go to the better ranking.
    tie_break = result.metrics.get("val_average_precision", math.nan)
    return result.objective, tie_break if math.isfinite(tie_break) else -math.inf


def better_trial(candidate: TrialResult, incumbent: TrialResult | None) -> bool:
    """Whether ``candidate`` should replace ``incumbent`` as the sweep's best.

    Judged on the objective at the operating point only (every trial flags the same budget share of
    the held-out rows); no trial is excluded for what its default threshold would flag.
    """
    return incumbent is None or _selection_key(candidate) > _selection_key(incumbent)


def _rung(trial: optuna.Trial, name: str, params: dict[str, Any], data: TrialData, record: TrialRecorder) -> None:
    """Rung 0: judge a fit on a share of the fit rows on the objective; prune below the median."""
    rung = evaluate_trial(name, params, data.subsample(RUNG_SHARE))
    rung.detector = None
    if math.isnan(rung.objective):
        return
    trial.report(rung.objective, 0)
    if trial.should_prune():
        reason = f"pruned at rung 0 ({RUNG_SHARE:.0%} of the fit rows): {data.objective_name} {rung.objective:.4f}"
        record(trial.number, name, params, rung, "pruned", reason)
        raise optuna.TrialPruned(reason)


def run_sweep(data: TrialData, families: list[str], n_trials: int, n_jobs: int, seed: int,
              record: TrialRecorder) -> SweepOutcome:
    """Run ``n_trials`` trials, recording each; return the best (fitted detector included)."""
    lock = threading.Lock()
    best: list[TrialResult] = []
    best_by_kind: dict[str, TrialResult] = {}

    def objective(trial: optuna.Trial) -> float:
        name = trial.suggest_categorical("detector", families)
        params = suggest_params(name, trial)
        try:
            _rung(trial, name, params, data, record)
            result = evaluate_trial(name, params, data)
        except TRIAL_ERRORS as exc:
            record(trial.number, name, params, None, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if math.isnan(result.objective):
            record(trial.number, name, params, result, "failed", "objective is undefined (NaN)")
            raise optuna.TrialPruned("objective is undefined")
        record(trial.number, name, params, result, "complete", None)
        with lock:
            kind = model_kind(name)
            if better_trial(result, best_by_kind.get(kind)):
                best_by_kind[kind] = result
            if better_trial(result, best[0] if best else None):
                if best:
                    best[0].detector = None  # keep only the best fitted detector in memory
                best[:] = [result]
            else:
                result.detector = None
        return result.objective

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                           n_startup_trials=min(5, max(1, n_trials // 2))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs, catch=TRIAL_ERRORS, show_progress_bar=n_trials > 1)
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    if not best:
        raise ShopguardError(f"no sweep trial completed ({states}); see the trial runs' error tags")
    log.info("sweep done: %s; best %s %s = %.4f", states, best[0].detector_name, data.objective_name, best[0].objective)
    return SweepOutcome(best=best[0], objective_name=data.objective_name, states=states, best_by_kind=best_by_kind)
