"""Manual train, scheduled train, drift retrain and rollbacks started at once as real processes
against one data root: the aliases stay consistent and every decision is recorded once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from test_training_units import END, write_feature_window

from tasks.layout import DataLayout
from tasks.monitoring.drift_retrain import read_retrain_result
from tasks.registry.contract import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from tasks.run_status import read_day_record, update_day_status
from tasks.settings import Settings
from tasks.tracking import mlflow_client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

ROLE = textwrap.dedent("""
    import sys, time
    from datetime import date
    from tasks.errors import ShopguardError
    from tasks.settings import Settings
    role, end = sys.argv[1], date.fromisoformat(sys.argv[2])
    settings = Settings()
    settings.apply_environment()
    if role in ("manual", "schedule"):
        from flows.train import train_flow
        print(train_flow(end=end, settings=settings, trials=1, trigger=role).version)
    elif role == "drift":
        from flows.daily import start_drift_retrain
        section = start_drift_retrain(end, settings)
        print(section.flow_run_id, section.model_version)
    else:  # rollbacks, each as soon as there is something to roll back to
        from flows.train import promote_version
        done, deadline = 0, time.monotonic() + 400
        while done < 2 and time.monotonic() < deadline:
            try:
                print(promote_version(None, settings, f"rollback {done}")[0], flush=True)
                done += 1
            except ShopguardError as exc:
                assert "nothing to roll back to" in str(exc), exc
                time.sleep(0.5)
""")


class AliasWatcher(threading.Thread):
    """Polls the registry while the processes run: once set, champion never disappears, and it
    only ever points at a version whose decision is already recorded."""

    def __init__(self, settings: Settings):
        super().__init__(daemon=True)
        self.settings, self.stop, self.violations, self.samples = settings, threading.Event(), [], 0

    def run(self) -> None:
        seen_champion = False
        while not self.stop.is_set():
            time.sleep(0.3)
            try:
                client = mlflow_client(self.settings)
                model = client.get_registered_model(self.settings.registered_model_name)
            except Exception:  # the store or the model does not exist yet
                continue
            self.samples += 1
            champion = model.aliases.get(CHAMPION)
            if champion is None:
                if seen_champion:
                    self.violations.append("champion alias disappeared")
                continue
            seen_champion = True
            tags = client.get_model_version(self.settings.registered_model_name, str(champion)).tags
            if "promotion_decision" not in tags:
                self.violations.append(f"champion v{champion} served before its decision was recorded")


def test_no_interleaving_leaves_the_aliases_inconsistent(tmp_path):
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, mlflow_tracking_uri=None, prefect_api_url=None)
    write_feature_window(settings, users=150, anomaly_share=0.03)
    layout = DataLayout(data_dir)
    update_day_status(layout, END, "drift", {  # what the monitor records for a drifted day
        "feature_count": 10, "drifted_features": [f"f{i}" for i in range(9)], "drift_share": 0.9,
        "drift_detected": True, "retrain_recommended": True, "reasons": ["9 of 10 features drifted"]})
    watcher = AliasWatcher(settings)
    watcher.start()
    procs = {}
    for role in ("manual", "schedule", "drift", "rollback"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOPGUARD_DATA_DIR": str(data_dir),
               "SHOPGUARD_TRAINING__DETECTORS": "gaussian,ecod", "SHOPGUARD_TRAINING__TRIALS": "1",
               "SHOPGUARD_TRAINING__PROMOTION_MARGIN": "0",  # equal challengers win: rollbacks get targets
               "PREFECT_HOME": str(tmp_path / f"prefect-{role}")}  # one temporary Prefect server each
        env.pop("MLFLOW_TRACKING_URI", None)
        procs[role] = subprocess.Popen([sys.executable, "-c", ROLE, role, END.isoformat()], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = {role: proc.communicate(timeout=600) for role, proc in procs.items()}
    watcher.stop.set()
    watcher.join(10)
    for role, proc in procs.items():
        assert proc.returncode == 0, f"{role}: {outputs[role][1][-2000:]}"
    assert watcher.samples > 10 and watcher.violations == []

    client = mlflow_client(settings)
    name = settings.registered_model_name
    trained = {role: outputs[role][0].split()[-1] for role in ("manual", "schedule", "drift")}
    versions = {str(v.version): v for v in client.search_model_versions(f"name='{name}'")}
    assert sorted(versions) == sorted(trained.values())  # one version per retrain, none orphaned
    for version in versions.values():
        assert version.tags["promotion_decision"] in {"promoted", "rejected", "manual"}
        assert version.description  # the reason, readable in the MLflow UI

    experiment = client.get_experiment_by_name(settings.experiment_name)
    parents = [r for r in client.search_runs([experiment.experiment_id])
               if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 3 and all(r.info.status == "FINISHED" for r in parents)
    spans = sorted((r.info.start_time, r.info.end_time) for r in parents)
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    last_trained = max(parents, key=lambda r: r.info.start_time)
    by_run = {v.run_id: str(v.version) for v in versions.values()}

    final = {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}
    assert final[CHALLENGER] == by_run[last_trained.info.run_id]  # the newest retrain's, by guard order
    assert CHAMPION in final
    if PREVIOUS_CHAMPION in final:
        assert final[PREVIOUS_CHAMPION] != final[CHAMPION]
        assert versions[final[PREVIOUS_CHAMPION]].tags["promotion_decision"] in {"promoted", "manual"}
    drift_run, drift_version = outputs["drift"][0].split()[-2:]
    persisted = read_retrain_result(layout, drift_run)  # the drift retrain's own result, by its flow run
    assert persisted is not None and persisted.model_version == drift_version
    assert read_day_record(layout, END).retrain.model_version == drift_version
    rollbacks = outputs["rollback"][0].split()
    assert len(rollbacks) == 2
    cooldown = json.loads((data_dir / "state" / "drift_retrains.json").read_text())
    assert cooldown == {"drift_retrains": [END.isoformat()]}  # recorded once, after the retrain finished
