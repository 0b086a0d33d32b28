"""Optuna sweep over detector families and their hyperparameters (TPE, median pruning).

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
from tasks.training.objective import EpochHook, TrialData, TrialResult, evaluate_trial
from tasks.training.search_space import suggest_params

log = logging.getLogger(__name__)

# Called once per finished trial: (trial number, detector, params, result or None, state, error).
TrialRecorder = Callable[[int, str, dict[str, Any], TrialResult | None, str, str | None], None]
TRIAL_ERRORS = (ValueError, FloatingPointError, ArithmeticError, RuntimeError, MemoryError)


@dataclass
class SweepOutcome:
    best: TrialResult
    objective_name: str
    states: dict[str, int] = field(default_factory=dict)


def _pruning_hook(trial: optuna.Trial) -> EpochHook:
    """Report a detector's per-epoch value (negated training loss: the study maximises) and prune."""
    def on_epoch(epoch: int, loss: float) -> None:
        trial.report(-float(loss), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}")
    return on_epoch


def better_trial(candidate: TrialResult, incumbent: TrialResult | None, max_alert_rate: float | None) -> bool:
    """Whether ``candidate`` should replace ``incumbent`` as the sweep's best.

    A trial whose held-out alert rate is within ``max_alert_rate`` beats any trial outside it: the
    promotion gate would refuse the latter anyway, so picking it would waste the retrain. Among
    equals, the higher objective wins.
    """
    if incumbent is None:
        return True

    def key(result: TrialResult) -> tuple[bool, float]:
        rate = result.metrics.get("alert_rate", 0.0)
        return (max_alert_rate is None or rate <= max_alert_rate, result.objective)

    return key(candidate) > key(incumbent)


def run_sweep(data: TrialData, families: list[str], n_trials: int, n_jobs: int, seed: int,
              record: TrialRecorder, max_alert_rate: float | None = None) -> SweepOutcome:
    """Run ``n_trials`` trials, recording each; return the best (fitted detector included)."""
    lock = threading.Lock()
    best: list[TrialResult] = []

    def objective(trial: optuna.Trial) -> float:
        name = trial.suggest_categorical("detector", families)
        params = suggest_params(name, trial)
        try:
            result = evaluate_trial(name, params, data, on_epoch=_pruning_hook(trial))
        except optuna.TrialPruned as exc:
            record(trial.number, name, params, None, "pruned", str(exc))
            raise
        except TRIAL_ERRORS as exc:
            record(trial.number, name, params, None, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if math.isnan(result.objective):
            record(trial.number, name, params, result, "failed", "objective is undefined (NaN)")
            raise optuna.TrialPruned("objective is undefined")
        record(trial.number, name, params, result, "complete", None)
        with lock:
            if better_trial(result, best[0] if best else None, max_alert_rate):
                best[:] = [result]
            else:
                result.detector = None  # keep only the best fitted detector in memory
        return result.objective

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                           n_startup_trials=min(5, max(1, n_trials // 2))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
    )
    study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs, catch=TRIAL_ERRORS, show_progress_bar=n_trials > 1)
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    if not best:
        raise ShopguardError(f"no sweep trial completed ({states}); see the trial runs' error tags")
    log.info("sweep done: %s; best %s %s = %.4f", states, best[0].detector_name, data.objective_name, best[0].objective)
    return SweepOutcome(best=best[0], objective_name=data.objective_name, states=states)
