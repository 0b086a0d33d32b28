"""The production-shaped stack on loopback (`make up` / `make down`).

    python -m infra.stack up   --data-dir data [--postgres-port 5433 --mlflow-port 5000 ...]
    python -m infra.stack down --data-dir data

What runs, all on 127.0.0.1, all state under DATA/stack (data stays when the stack stops):
- PostgreSQL: a cluster in DATA/stack/pg/data with a role and a database each for MLflow and
  Prefect. Postgres refuses to run as root, so as root its commands run as the ``postgres`` user.
- MLflow tracking server on Postgres with the artifact proxy (artifacts in DATA/mlflow/artifacts);
  clients need only its http URL.
- Prefect server on Postgres, a process work pool, the deployments (infra/deployments.py) deployed
  to that pool from this source folder, and one worker polling it.
- Dask: a scheduler and N worker processes.

``up`` is idempotent: what already runs (same process, checked by pid and start time) is only
health-checked. ``down`` stops exactly what ``up`` started and Postgres via ``pg_ctl stop``.
The env lines to point shopguard at the stack are printed and written to DATA/stack/env.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.servers import (
    HOST,
    STOP_TIMEOUT_S,
    Server,
    ServerError,
    _alive,
    _bin,
    await_ready,
    group_alive,
    launch,
    recorded_pid,
    signal_group,
    stop,
)

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
POOL = "shopguard"
WORKER_NAME = "shopguard-worker"
PG_SUPERUSER = "postgres"
DATABASES = ("mlflow", "prefect")  # one role and one database of the same name each
PG_START_TIMEOUT_S = 60
# Generous: on a loaded 2-core machine the MLflow server alone took 100 s to answer /health.
DEFAULT_TIMEOUT_S = 300.0
# the processes `up` starts (Postgres aside: pg_ctl owns it)
PROCESSES = ("prefect-worker", "dask-worker", "dask-scheduler", "mlflow", "prefect")


@dataclass(frozen=True)
class Ports:
    postgres: int = 5433  # not 5432: leaves the distribution's default cluster port alone
    mlflow: int = 5000
    prefect: int = 4200
    dask: int = 8786
    dask_dashboard: int = 8787


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    ports: Ports = Ports()
    dask_workers: int = 2
    pool: str = POOL
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def root(self) -> Path:
        return self.data_dir / "stack"

    @property
    def pg_dir(self) -> Path:
        """Owned by the postgres user when run as root: the cluster, its log and its socket."""
        return self.root / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def mlflow_uri(self) -> str:
        return f"http://{HOST}:{self.ports.mlflow}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.ports.prefect}/api"

    @property
    def dask_address(self) -> str:
        return f"tcp://{HOST}:{self.ports.dask}"

    def database_url(self, name: str, driver: str) -> str:
        return f"postgresql+{driver}://{name}@{HOST}:{self.ports.postgres}/{name}"

    def client_env(self) -> dict[str, str]:
        """What a shopguard command needs to use the stack instead of its embedded defaults."""
        return {"MLFLOW_TRACKING_URI": self.mlflow_uri, "PREFECT_API_URL": self.prefect_api_url,
                "SHOPGUARD_DASK_ADDRESS": self.dask_address, "SHOPGUARD_DATA_DIR": str(self.data_dir)}


# --- PostgreSQL --------------------------------------------------------------------------------


def pg_bindir() -> Path:
    """Where initdb and pg_ctl live: ``pg_config --bindir``, else the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                      if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates += [Path(p) for p in versions]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise ServerError("postgres: initdb/pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin); "
                      "install PostgreSQL (Debian: apt-get install postgresql)")


def _as_postgres(command: list[str]) -> list[str]:
    """Postgres refuses to run as root: then run its tools as the postgres system user."""
    return ["runuser", "-u", PG_SUPERUSER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str, log_hint: Path | str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ServerError(f"postgres: {what} failed ({detail[-1] if detail else f'exit {done.returncode}'}); "
                          f"see {log_hint}")
    return done


def _prepare_pg_dir(config: StackConfig) -> None:
    config.pg_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        config.pg_dir.chmod(0o700)
        return
    user = pwd.getpwnam(PG_SUPERUSER)
    for path in [config.pg_dir, *config.pg_dir.rglob("*")]:
        with contextlib.suppress(FileNotFoundError):
            if path.lstat().st_uid != user.pw_uid:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    config.pg_dir.chmod(0o700)
    probe = subprocess.run(_as_postgres(["test", "-w", str(config.pg_dir)]), check=False)
    if probe.returncode != 0:
        blocked = next((str(p) for p in reversed(config.pg_dir.parents)
                        if subprocess.run(_as_postgres(["test", "-x", str(p)]), check=False).returncode != 0),
                       str(config.pg_dir))
        raise ServerError(f"postgres: the postgres user cannot reach {config.pg_dir} ({blocked} is not "
                          f"traversable: chmod o+x it or pick another --data-dir)")


def postgres_running(config: StackConfig) -> bool:
    if not (config.pg_data / "postmaster.pid").exists():
        return False
    status = subprocess.run(_as_postgres([str(pg_bindir() / "pg_ctl"), "-D", str(config.pg_data), "status"]),
                            capture_output=True, check=False)
    return status.returncode == 0


def _postgres_port(config: StackConfig) -> int | None:
    """The port the running cluster listens on (line 4 of postmaster.pid)."""
    try:
        return int((config.pg_data / "postmaster.pid").read_text().splitlines()[3])
    except (OSError, IndexError, ValueError):
        return None


def pg_ready(config: StackConfig) -> bool:
    ready = subprocess.run(["pg_isready", "-q", "-h", HOST, "-p", str(config.ports.postgres)], check=False)
    return ready.returncode == 0


def _psql(config: StackConfig, sql: str) -> str:
    command = ["psql", "-h", HOST, "-p", str(config.ports.postgres), "-U", PG_SUPERUSER, "-d", "postgres",
               "-v", "ON_ERROR_STOP=1", "-tAc", sql]
    return _run(command, f"psql {sql.split()[0]}", config.pg_log).stdout.strip()


def start_postgres(config: StackConfig) -> str:
    """initdb once, start the cluster unless it runs, create the roles and databases; a status word."""
    bindir = pg_bindir()
    _prepare_pg_dir(config)
    status = "already running"
    if not (config.pg_data / "PG_VERSION").exists():
        # trust on loopback only: the cluster listens on 127.0.0.1 and keeps no unix socket elsewhere
        _run(_as_postgres([str(bindir / "initdb"), "-D", str(config.pg_data), "-A", "trust", "-U", PG_SUPERUSER,
                           "-E", "UTF8", "--no-instructions"]), "initdb", config.pg_dir)
    if postgres_running(config):
        port = _postgres_port(config)
        if port != config.ports.postgres:
            raise ServerError(f"postgres: the cluster in {config.pg_data} already runs on port {port}, not "
                              f"{config.ports.postgres}; `make down` first")
    else:
        options = f"-c listen_addresses={HOST} -p {config.ports.postgres} -k {config.pg_dir}"
        _run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(config.pg_data), "-l", str(config.pg_log), "-w",
                           "-t", str(PG_START_TIMEOUT_S), "-o", options, "start"]), "pg_ctl start", config.pg_log)
        status = "started"
    if not pg_ready(config):
        raise ServerError(f"postgres: not accepting connections on {HOST}:{config.ports.postgres}; see {config.pg_log}")
    for name in DATABASES:
        if not _psql(config, f"SELECT 1 FROM pg_roles WHERE rolname = '{name}'"):
            _psql(config, f"CREATE ROLE {name} LOGIN")
        if not _psql(config, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            _psql(config, f"CREATE DATABASE {name} OWNER {name}")
    return status


def stop_postgres(config: StackConfig) -> bool:
    if not postgres_running(config):
        return False
    _run(_as_postgres([str(pg_bindir() / "pg_ctl"), "-D", str(config.pg_data), "-m", "fast", "-w", "stop"]),
         "pg_ctl stop", config.pg_log)
    return True


# --- the servers and workers ---------------------------------------------------------------------


def _base_env(config: StackConfig) -> dict[str, str]:
    return {"PREFECT_HOME": str(config.data_dir / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}


def mlflow_server(config: StackConfig) -> Server:
    artifacts = config.data_dir / "mlflow" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [_bin("mlflow"), "server", "--backend-store-uri", config.database_url("mlflow", "psycopg"),
               "--serve-artifacts", "--artifacts-destination", str(artifacts),
               "--host", HOST, "--port", str(config.ports.mlflow), "--workers", "1"]
    return Server("mlflow", command, _base_env(config), f"{config.mlflow_uri}/health", config.mlflow_uri,
                  f"MLFLOW_TRACKING_URI={config.mlflow_uri}", log_dir=config.root / "logs")


def prefect_server(config: StackConfig) -> Server:
    env = {**_base_env(config), "PREFECT_API_DATABASE_CONNECTION_URL": config.database_url("prefect", "asyncpg"),
           "PREFECT_UI_API_URL": config.prefect_api_url}
    command = [_bin("prefect"), "server", "start", "--host", HOST, "--port", str(config.ports.prefect)]
    return Server("prefect", command, env, f"{config.prefect_api_url}/health", config.prefect_api_url.removesuffix("/api"),
                  f"PREFECT_API_URL={config.prefect_api_url}", log_dir=config.root / "logs")


def _worker_online(config: StackConfig) -> bool:
    """The worker has registered with the pool and its heartbeat says ONLINE."""
    request = urllib.request.Request(f"{config.prefect_api_url}/work_pools/{config.pool}/workers/filter",
                                     data=b"{}", headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            workers = json.load(response)
    except (OSError, ValueError):
        return False
    return any(w.get("name") == WORKER_NAME and w.get("status") == "ONLINE" for w in workers)


def prefect_worker(config: StackConfig) -> Server:
    # flow runs inherit this environment: they find the stack's MLflow, Dask and data root
    env = {**_base_env(config), **config.client_env()}
    command = [_bin("prefect"), "worker", "start", "--pool", config.pool, "--type", "process",
               "--name", WORKER_NAME]
    return Server("prefect-worker", command, env, f"{config.prefect_api_url}/work_pools/{config.pool}/workers",
                  f"pool {config.pool}", f"pool {config.pool}", check=lambda: _worker_online(config),
                  log_dir=config.root / "logs")


def dask_scheduler(config: StackConfig) -> Server:
    dashboard = f"http://{HOST}:{config.ports.dask_dashboard}"
    command = [_bin("dask"), "scheduler", "--host", HOST, "--port", str(config.ports.dask),
               "--dashboard-address", f"{HOST}:{config.ports.dask_dashboard}"]
    return Server("dask-scheduler", command, _base_env(config), f"{dashboard}/health", config.dask_address,
                  f"SHOPGUARD_DASK_ADDRESS={config.dask_address}", log_dir=config.root / "logs")


def _dask_workers_connected(config: StackConfig) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{config.ports.dask_dashboard}/json/counts.json", timeout=2) as r:
            return json.load(r).get("workers", 0) >= config.dask_workers
    except (OSError, ValueError):
        return False


def dask_workers(config: StackConfig) -> Server:
    command = [_bin("dask"), "worker", config.dask_address, "--host", HOST, "--nworkers", str(config.dask_workers),
               "--nthreads", "1", "--no-dashboard", "--local-directory", str(config.root / "dask")]
    return Server("dask-worker", command, _base_env(config), f"http://{HOST}:{config.ports.dask_dashboard}/json/counts.json",
                  f"{config.dask_workers} workers", f"{config.dask_workers} workers",
                  check=lambda: _dask_workers_connected(config), log_dir=config.root / "logs")


# --- deployments ---------------------------------------------------------------------------------


def deploy(config: StackConfig) -> list[str]:
    """Create the work pool if missing and deploy the specs to it; then the automations, if any."""
    from tasks.settings import Settings

    return deploy_settings(Settings(data_dir=config.data_dir, prefect_api_url=config.prefect_api_url,
                                    mlflow_tracking_uri=config.mlflow_uri, dask_address=config.dask_address),
                           config.pool)


def deploy_settings(settings: Any, pool: str) -> list[str]:
    """Deploy to ``pool`` on ``settings.prefect_api_url``; the names of what was deployed."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serve import deploy_to_pool

    # prefect.deploy prints a rich table of what it applied; `up` prints its own summary
    with temporary_settings(updates={PREFECT_API_URL: settings.prefect_api_url}), \
            contextlib.redirect_stdout(io.StringIO()):
        names = deploy_to_pool(settings, pool, REPO_ROOT)
        from infra.automations import apply_automations

        names += [f"automation {name}" for name in apply_automations(settings)]
    return names


# --- up / down -----------------------------------------------------------------------------------


def _check_ports(config: StackConfig) -> None:
    """A second `up` with other ports while the stack runs would start a second half-stack."""
    if not config.ports_file.exists():
        return
    recorded = Ports(**json.loads(config.ports_file.read_text()))
    if recorded != config.ports and any(_running(config, name) for name in PROCESSES):
        raise ServerError(f"stack: already running in {config.root} with {asdict(recorded)}; `make down` first")


def _running(config: StackConfig, name: str) -> bool:
    return recorded_pid(config.root / "servers" / f"{name}.pid") is not None


def _start_all(config: StackConfig, servers: list[Server]) -> dict[str, str]:
    """Launch every server at once (they boot in parallel), then wait for each in turn."""
    launched = [(server, launch(server, config.root)) for server in servers]
    status = {}
    try:
        for server, process in launched:
            await_ready(server, config.root, process, config.timeout_s)
            status[server.name] = "started" if process is not None else "already running"
    except BaseException:
        # what this call started must not outlive a failed `up`; what already ran stays
        for server, process in launched:
            if process is not None:
                stop(server.name, config.root)
        raise
    return status


def up(config: StackConfig) -> dict[str, str]:
    """Start (or find healthy) every part; returns each part's status word."""
    config.root.mkdir(parents=True, exist_ok=True)
    _check_ports(config)
    status = {"postgres": start_postgres(config)}
    tmp = config.ports_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(config.ports)))
    tmp.replace(config.ports_file)
    status |= _start_all(config, [mlflow_server(config), prefect_server(config), dask_scheduler(config)])
    status["deployments"] = ", ".join(deploy(config))
    status |= _start_all(config, [prefect_worker(config), dask_workers(config)])
    lines = [f"export {key}={value}" for key, value in config.client_env().items()]
    tmp = config.env_file.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(config.env_file)
    return status


def down(config: StackConfig) -> list[str]:
    """Stop what ``up`` started (by recorded pid and start time) and the cluster; data stays.

    SIGTERM to every recorded session at once, then wait: one by one, each server's own shutdown
    (Prefect's takes seconds) would add up.
    """
    pid_files = [config.root / "servers" / f"{name}.pid" for name in PROCESSES]
    pids = {name: recorded_pid(path) for name, path in zip(PROCESSES, pid_files, strict=True)}
    started = [pid for pid in pids.values() if pid is not None]
    for pid in started:
        signal_group(pid, signal.SIGTERM)  # its own session: it and what it spawned
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while any(_alive(pid) or group_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in started:  # the group, not its leader, decides: workers may outlive the leader
        signal_group(pid, signal.SIGKILL)
    for path in pid_files:
        path.unlink(missing_ok=True)
    stopped = [name for name, pid in pids.items() if pid is not None]
    if config.pg_data.exists() and stop_postgres(config):
        stopped.append("postgres")
    return stopped


def _write(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    defaults = Ports()
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "deploy"],
                        help="deploy: only (re)deploy to the pool on PREFECT_API_URL, settings from the environment")
    parser.add_argument("--pool", default=POOL, help="process work pool the deployments go to")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SHOPGUARD_DATA_DIR", "data")))
    for name in ("postgres", "mlflow", "prefect", "dask", "dask_dashboard"):
        parser.add_argument(f"--{name.replace('_', '-')}-port", type=int, default=getattr(defaults, name), dest=name)
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds each part may take to become healthy")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call otherwise
    config = StackConfig(data_dir=args.data_dir.expanduser().resolve(), dask_workers=args.dask_workers,
                         timeout_s=args.timeout, pool=args.pool,
                         ports=Ports(args.postgres, args.mlflow, args.prefect, args.dask, args.dask_dashboard))
    started = time.monotonic()
    try:
        if args.action == "deploy":
            from tasks.errors import ShopguardError
            from tasks.settings import Settings

            try:
                names = deploy_settings(Settings(), args.pool)
            except ShopguardError as exc:
                raise ServerError(str(exc)) from exc
            _write([f"deployed to pool {args.pool}: {', '.join(names)}"])
            return 0
        if args.action == "down":
            stopped = down(config)
            _write([f"stopped: {', '.join(stopped)} (data kept in {config.data_dir})" if stopped
                    else "nothing of the stack was running"])
            return 0
        status = up(config)
    except ServerError as exc:
        print(f"infra.stack: error: {exc}", file=sys.stderr)
        return 1
    healthy = all(word == "already running" for key, word in status.items() if key != "deployments")
    lines = [("stack already up, every part healthy" if healthy else "stack up")
             + f" in {time.monotonic() - started:.1f}s (stop with `make down`):"]
    lines += [f"  {name:<15} {word}" for name, word in status.items()]
    lines += [f"  postgres        {HOST}:{config.ports.postgres} (cluster {config.pg_data})",
              f"  mlflow          {config.mlflow_uri}", f"  prefect         {config.prefect_api_url.removesuffix('/api')}",
              f"  dask            {config.dask_address} (dashboard http://{HOST}:{config.ports.dask_dashboard})",
              f"point shopguard at it (also in {config.env_file}, `source` it):"]
    lines += [f"  export {key}={value}" for key, value in config.client_env().items()]
    _write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
