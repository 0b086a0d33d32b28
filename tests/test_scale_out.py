"""Scale-out on a real Dask cluster: sharded features and scores equal the in-process ones row for row.

The cluster is a LocalCluster on 127.0.0.1 with two worker processes (spawned: they re-import
the test's __main__, which is pytest's and guarded). Prefect is the session's temporary server.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_features import RAW_SCHEMA, write_users
from test_scoring import DAY as SCORING_DAY
from test_scoring import world  # noqa: F401  (a module fixture: registered champion + a day of features)

from tasks.features.catalogue import model_feature_names
from tasks.layout import DataLayout
from tasks.parquet_io import write_partition_atomic

DAY = date(2026, 1, 10)
N_USERS = 90


# A lost worker must fail the test, not hang the suite until CI's limit.
pytestmark = pytest.mark.timeout(900)


def _without_model_code_paths(path: list[str]) -> list[str]:
    """sys.path minus the ``code/`` folders MLflow prepends when it loads a pyfunc model (earlier
    tests in the session load champions): spawned workers inherit sys.path, and would import the
    model's cut-down copy of ``tasks`` instead of the project's."""
    return [p for p in path if not (Path(p).name == "code" and (Path(p).parent / "MLmodel").exists())]


@pytest.fixture(scope="module")
def dask_address():
    from distributed import LocalCluster

    saved = list(sys.path)
    sys.path[:] = _without_model_code_paths(saved)
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0", memory_limit="1GiB")
    finally:
        sys.path[:] = saved
    with cluster:
        yield cluster.scheduler_address


def ran_on_cluster(address: str, prefix: str) -> bool:
    """Whether the scheduler has run tasks whose keys start with ``prefix`` (Dask keys name the function)."""
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert prefixes, "the scheduler saw no task at all"
    return any(p.startswith(prefix) for p in prefixes) or pytest.fail(f"no {prefix} task among {prefixes}")


def write_world(layout: DataLayout, days: list[date], seed: int = 0) -> None:
    """Validated days where users share devices, IPs and cards, so the cross-user features matter."""
    rng = np.random.default_rng(seed)
    write_users(layout, [{"user_id": f"u{i:03d}", "signup_ts": f"2025-{1 + i % 12:02d}-01T00:00:00Z",
                          "birth_year": 1960 + i % 40} for i in range(N_USERS - 5)])  # 5 users without a profile
    types = np.array(["login", "view", "search", "add_to_cart", "checkout", "purchase", "payment_failed",
                      "review", "coupon_apply"])
    for d, day in enumerate(days):
        n = 1500
        users = rng.integers(0, N_USERS - d * 10, n)  # a varying set of active users per day
        etype = types[rng.choice(len(types), n, p=[.05, .5, .15, .1, .05, .06, .03, .03, .03])]
        priced = np.isin(etype, ["add_to_cart", "checkout", "purchase", "payment_failed"])
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        frame = pd.DataFrame({
            "event_id": [f"{day}-{i:05d}" for i in range(n)],
            "ts": [start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)],
            "user_id": [f"u{u:03d}" for u in users],
            "session_id": [f"s{u}-{h}" for u, h in zip(users, rng.integers(0, 3, n), strict=True)],
            "event_type": etype,
            "item_id": [f"i{i}" for i in rng.integers(0, 200, n)],
            "category": [f"c{i}" for i in rng.integers(0, 12, n)],
            "price": np.where(priced, np.round(rng.gamma(2, 20, n), 2), np.nan),
            "quantity": pd.array(np.where(priced, rng.integers(1, 3, n), 0), dtype="Int32"),
            # shared devices / IPs / cards across users (rings), plus each user's own
            "device_id": [f"d{u % 10}" if r < 0.3 else f"d-own-{u}" for u, r in zip(users, rng.random(n), strict=True)],
            "ip": [f"ip{u % 17}" if r < 0.2 else f"ip-own-{u}" for u, r in zip(users, rng.random(n), strict=True)],
            "country": np.where(rng.random(n) < 0.05, "FR", "DE"),
        })
        frame.loc[~priced, "quantity"] = pd.NA
        frame.loc[~priced, "price"] = None
        table = pa.Table.from_pandas(frame, schema=RAW_SCHEMA, preserve_index=False)
        cards = [f"card{u % 11}" if p else None for u, p in zip(users, priced, strict=True)]
        write_partition_atomic(table.append_column("payment_id", pa.array(cards, pa.string())), layout.validated(day))


@pytest.mark.slow
def test_sharded_features_equal_the_in_process_ones_row_for_row(prefect_harness, settings, dask_address):
    from flows.features import features_flow

    layout = DataLayout(settings.data_dir)
    write_world(layout, [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY])
    in_process = features_flow(day=DAY, settings=settings, window_days=3)
    local = pq.read_table(in_process.path)

    sharded = features_flow(day=DAY, settings=settings.model_copy(update={"dask_address": dask_address,
                                                                         "dask_shards": 3}), window_days=3)
    on_dask = pq.read_table(sharded.path)

    assert ran_on_cluster(dask_address, "build_shard_task")
    assert [f.name for f in layout.features(DAY).iterdir()] == ["part-0.parquet"]  # still one part file
    assert on_dask.num_rows == local.num_rows == sharded.rows
    assert on_dask.equals(local, check_metadata=True)  # same rows, order, values, schema and version
    frame = local.to_pandas()
    # the cross-user features are really there (a per-shard count would come out smaller)
    assert (frame["device_shared_users"] > 3).any() and (frame["payment_shared_users"] > 3).any()
    assert frame["platform_volume_ratio"].nunique() == 1


def test_every_shard_count_gives_the_same_table(tmp_path):
    """Without a cluster: the shard split itself (1, 2 or 7 shards) never changes a value."""
    from tasks.features.store import (
        build_day_features,
        build_shard_features,
        merge_shard_features,
        prepare_day_inputs,
        write_day_globals,
    )

    layout = DataLayout(tmp_path / "data")
    write_world(layout, [DAY - timedelta(days=1), DAY], seed=3)
    whole = build_day_features(layout, DAY, window_days=2)
    inputs = prepare_day_inputs(layout, DAY, window_days=2)
    global_files = write_day_globals(inputs, tmp_path / "globals")
    for n_shards in (1, 2, 7):
        parts = [build_shard_features(inputs, global_files, k, n_shards) for k in range(n_shards)]
        assert sum(len(p) for p in parts) == len(whole)
        assert all(len(p) for p in parts)  # 85 users spread over every shard
        pd.testing.assert_frame_equal(merge_shard_features(parts), whole, check_exact=True)


@pytest.mark.slow
def test_sharded_scores_and_alerts_equal_the_in_process_ones(prefect_harness, dask_address, world):  # noqa: F811
    from flows.daily import score_flow

    settings, _, _ = world
    layout = DataLayout(settings.data_dir)
    local_summary = score_flow(day=SCORING_DAY, settings=settings)
    local = {name: pq.read_table(folder(SCORING_DAY) / "part-0.parquet") for name, folder in
             (("scores", layout.scores), ("alerts", layout.alerts))}

    dask_summary = score_flow(day=SCORING_DAY, settings=settings.model_copy(update={"dask_address": dask_address,
                                                                            "dask_shards": 4}))
    assert ran_on_cluster(dask_address, "score_shard_task")
    stamp = "updated_at"  # when the section was written, the one field allowed to differ
    assert {k: v for k, v in dask_summary.items() if k != stamp} == {k: v for k, v in local_summary.items() if k != stamp}
    for name, folder in (("scores", layout.scores), ("alerts", layout.alerts)):
        assert pq.read_table(folder(SCORING_DAY) / "part-0.parquet").equals(local[name]), name
    assert local["alerts"].num_rows > 0


def _sweep_trace(data, executor, n_jobs):
    from tasks.training.sweep import run_sweep

    records = []

    def record(number, name, params, result, state, error):
        metrics = {} if result is None else {k: v for k, v in result.metrics.items() if not k.endswith("_seconds")}
        records.append((number, name, params, state, metrics))

    outcome = run_sweep(data, ["gaussian", "gradient_boosting"], n_trials=4, n_jobs=n_jobs,
                        seed=7, record=record, executor=executor)
    return outcome, sorted(records, key=lambda r: r[0])


@pytest.mark.slow
def test_the_sweep_on_dask_gives_the_in_process_result_for_a_seed(settings, dask_address):
    from distributed import Client
    from test_training_units import write_feature_window

    from tasks.training.executors import DaskExecutor, ThreadExecutor
    from tasks.training.steps import trial_data
    from tasks.training.window import load_window, plan_window

    end = date(2026, 1, 7)
    write_feature_window(settings, end=end, users=120, days=5)
    data = trial_data(load_window(DataLayout(settings.data_dir), plan_window(end, 5, 2), model_feature_names()),
                      settings)
    local, local_trace = _sweep_trace(data, ThreadExecutor(2), n_jobs=2)
    with Client(dask_address, set_as_default=False) as client:
        remote, remote_trace = _sweep_trace(data, DaskExecutor(client), n_jobs=2)
        assert ran_on_cluster(dask_address, "evaluate_trial")

    assert remote_trace == local_trace  # the same trials proposed, pruned, completed, with the same metrics
    assert (remote.best.detector_name, remote.best.params, remote.best.objective) == \
           (local.best.detector_name, local.best.params, local.best.objective)
    assert remote.states == local.states and sum(local.states.values()) == 4
    assert remote.best.detector is not None  # the fitted best came back from the worker
    # Dask workers run BLAS single-threaded (OMP_NUM_THREADS=1), this process does not: a score may
    # differ in its last bit, never enough to change a pick or a metric (both exact above).
    np.testing.assert_allclose(remote.best.val_scores, local.best.val_scores, rtol=1e-12)
