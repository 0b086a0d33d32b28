"""Optuna sweep over detector families and their hyperparameters (TPE, median pruning).

Pruning is on the objective the sweep maximises: each trial is first fitted on a seeded
``RUNG_SHARE`` of the fit rows and judged on the full held-out days (rung 0); a trial whose rung
objective is below the median of earlier trials' is pruned before its full fit. (Pruning on a
torch detector's training loss would favour codes wide enough to reconstruct anomalies too.)
Every family reports the same objective, so the median compares across families. A pruned trial
is recorded with its rung metrics.

The study only proposes parameters and collects objectives; the work of a trial is the pure
``evaluate_trial`` (and ``evaluate_rung``), which an executor runs: threads here, or the workers
of a Dask cluster (tasks.training.executors). Proposals go out in batches and are told back in
trial order, so a seed gives the same sweep on either.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState
from tqdm import tqdm

from tasks.errors import ShopguardError
from tasks.training.executors import ThreadExecutor, TrialExecutor
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
    _judge_rung(trial, name, params, evaluate_rung(name, params, data), data.objective_name, record)


def evaluate_rung(name: str, params: dict[str, Any], data: TrialData) -> TrialResult:
    """The rung-0 fit (a seeded share of the fit rows), without its detector: runs on any worker."""
    rung = evaluate_trial(name, params, data.subsample(RUNG_SHARE))
    rung.detector = None
    return rung


def _judge_rung(trial: optuna.Trial, name: str, params: dict[str, Any], rung: TrialResult, objective_name: str,
                record: TrialRecorder) -> None:
    if math.isnan(rung.objective):
        return
    trial.report(rung.objective, 0)
    if trial.should_prune():
        reason = f"pruned at rung 0 ({RUNG_SHARE:.0%} of the fit rows): {objective_name} {rung.objective:.4f}"
        record(trial.number, name, params, rung, "pruned", reason)
        raise optuna.TrialPruned(reason)


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_sweep(data: TrialData, families: list[str], n_trials: int, n_jobs: int, seed: int,
              record: TrialRecorder, executor: TrialExecutor | None = None) -> SweepOutcome:
    """Run ``n_trials`` trials, recording each; return the best (fitted detector included).

    Trials go in batches of ``n_jobs``: the study proposes a batch, the executor (threads here,
    or a Dask cluster) fits it, and the results are told in trial order. So for a seed the same
    trials are proposed, pruned and picked on any executor; one trial at a time is exactly the
    sequential Optuna loop.
    """
    executor = executor or ThreadExecutor(n_jobs)
    shared = executor.share(data)
    best: TrialResult | None = None
    best_by_kind: dict[str, TrialResult] = {}
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                           n_startup_trials=min(5, max(1, n_trials // 2))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )
    progress = tqdm(total=n_trials, desc="sweep", unit="trial", leave=False, disable=True if n_trials < 2 else None)
    while len(study.trials) < n_trials:
        batch = []
        for _ in range(min(n_jobs, n_trials - len(study.trials))):
            trial = study.ask()
            name = trial.suggest_categorical("detector", families)
            batch.append((trial, name, suggest_params(name, trial)))
        rungs = executor.run([(evaluate_rung, (name, params, shared)) for _, name, params in batch], TRIAL_ERRORS)
        survivors = []
        for (trial, name, params), rung in zip(batch, rungs, strict=True):
            if isinstance(rung, BaseException):
                record(trial.number, name, params, None, "failed", _failure(rung))
                study.tell(trial, state=TrialState.FAIL)
                continue
            try:
                _judge_rung(trial, name, params, rung, data.objective_name, record)
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
                continue
            survivors.append((trial, name, params))
        results = executor.run([(evaluate_trial, (name, params, shared)) for _, name, params in survivors],
                               TRIAL_ERRORS)
        for (trial, name, params), result in zip(survivors, results, strict=True):
            if isinstance(result, BaseException):
                record(trial.number, name, params, None, "failed", _failure(result))
                study.tell(trial, state=TrialState.FAIL)
            elif math.isnan(result.objective):
                record(trial.number, name, params, result, "failed", "objective is undefined (NaN)")
                study.tell(trial, state=TrialState.PRUNED)
            else:
                record(trial.number, name, params, result, "complete", None)
                study.tell(trial, result.objective)
                kind = model_kind(name)
                if better_trial(result, best_by_kind.get(kind)):
                    best_by_kind[kind] = result
                if better_trial(result, best):
                    if best is not None:
                        best.detector = None  # keep only the best fitted detector in memory
                    best = result
                else:
                    result.detector = None
        progress.update(len(batch))
    progress.close()
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    if best is None:
        raise ShopguardError(f"no sweep trial completed ({states}); see the trial runs' error tags")
    log.info("sweep done: %s; best %s %s = %.4f", states, best.detector_name, data.objective_name, best.objective)
    return SweepOutcome(best=best, objective_name=data.objective_name, states=states, best_by_kind=best_by_kind)
