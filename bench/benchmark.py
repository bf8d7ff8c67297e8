"""Benchmark the service against an echo and a naive baseline in the same run, on loopback.

Each app runs under the production server (gunicorn with service/gunicorn_conf.py); wrk drives it with 8
connections. The three apps run side by side and are driven in turn, scenario by scenario, for ``--rounds``
rounds, so that a slow spell of the machine falls on all of them; the best round of each is reported. Prints
requests per second, p50/p95/p99 latency and ratios to the baselines for every scenario, memory per worker and
time from process start to ready, and writes the same figures, every round included, as JSON. A run that got
error answers or an uneven spread of connections over the workers is marked as such. The service records its
cards in a new PostgreSQL database made for each server it starts, as the Helm chart runs it, or in an SQLite
file when no PostgreSQL server can be reached.

Usage: python -m bench.benchmark [--seconds 10] [--connections 8] [--rounds 2] [--out bench/out/results.json]
                                [--postgres URL] [--only apps|fetch]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bench.scenarios import SCENARIOS, order_sign
from service.fhir.sandbox import FhirSandbox, SandboxUnavailable, seed_bundle, without_prefetch

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "service" / "gunicorn_conf.py"
LOGS = ROOT / "bench" / "out" / "logs"
APPS = {
    "service": "service.wsgi:app",
    "echo": "bench.baselines:echo_app",
    "naive": "bench.baselines:naive_app",
}


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed when missing (the benchmark's only system dependency)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is not installed: run `sudo apt-get install wrk` and try again.")
    print("Installing wrk from Debian's packages ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                   "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def compile_sources() -> None:
    """The project's modules compiled to bytecode, as the container image holds them (pip compiles what it
    installs): where ``PYTHONDONTWRITEBYTECODE`` is set, every server started would compile them anew, and its time
    to ready would count that."""
    for package in ("service", "cds_hooks", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inherited_env() -> dict[str, str]:
    """The caller's environment without the service's settings: a CDS_* variable or a database left in the shell
    would change what is measured, and a shared PROMETHEUS_MULTIPROC_DIR would have the three gunicorn masters
    write to (and at start delete) each other's metric files; without it each master makes its own."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("CDS_", "PROMETHEUS_")) and key not in ("DATABASE_URL", "REDIS_URL")}


@contextmanager
def served(name: str, extra_env: dict[str, str] | None = None, log_name: str | None = None,
           postgres: str | None = None) -> Iterator[dict[str, Any]]:
    """Start one app under gunicorn; yield its URL, ready time and master pid; stop it with SIGTERM. Its output
    goes to ``bench/out/logs/<log_name>.log`` (default: the app's name), so each phase keeps its own log. The
    service gets an empty database of its own (``fresh_database``)."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
               APPS[name]]
    log = LOGS / f"{log_name or name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb"))
        database = stack.enter_context(fresh_database(postgres)) if name == "service" else None
        env = {**inherited_env(), "PYTHONPATH": str(ROOT),
               **(production_env(database) if database else {}), **(extra_env or {})}
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            ready = wait_ready(url, process, started, log)
            yield {"url": url, "ready_seconds": ready, "pid": process.pid}
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
"""Where the benchmark makes its databases by default: the build machine's PostgreSQL server."""


def postgres_server(admin_url: str) -> str | None:
    """The version of the PostgreSQL server at ``admin_url`` when it lets the benchmark make databases, else
    None, with the reason printed: the service's cards then go to an SQLite file."""
    if not admin_url:
        return None
    try:
        with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=3) as admin:
            name = _scratch_name()
            admin.execute(f'CREATE DATABASE "{name}"')
            admin.execute(f'DROP DATABASE "{name}"')
            return str(admin.execute("SHOW server_version").fetchone()[0]).split()[0]
    except (psycopg.Error, ArgumentError) as error:
        print(f"PostgreSQL at {admin_url.split('@')[-1]} cannot be used ({type(error).__name__}): "
              "issued cards go to an SQLite file instead", flush=True)
        return None


@contextmanager
def fresh_database(postgres: str | None) -> Iterator[str]:
    """The URL of an empty database for one server, removed afterwards: a new PostgreSQL database made through
    ``postgres`` (a URL of a database there), as the Helm chart runs the service, or else an SQLite file."""
    if not postgres:
        with tempfile.TemporaryDirectory(prefix="kcds-bench-db-") as folder:
            yield f"sqlite:///{Path(folder) / 'cards.sqlite3'}"
        return
    name = _scratch_name()
    with psycopg.connect(_libpq(postgres), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(postgres), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    """The URL as psycopg takes it: ``postgresql+psycopg://`` (SQLAlchemy's spelling) is accepted too."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _scratch_name() -> str:
    return f"kcds_bench_{secrets.token_hex(6)}"


def production_env(database_url: str) -> dict[str, str]:
    """The service as the Helm chart runs it (production: no CORS origins, a patient hash key, INFO logs, its own
    database), with client authentication off: wrk cannot sign a fresh JWT per call."""
    return {
        "CDS_ENV": "production",
        "CDS_AUTH_MODE": "off",
        "CDS_PATIENT_HASH_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
    }


def wait_ready(url: str, process: subprocess.Popen, started: float, log: Path) -> float:
    deadline = started + 60
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early; its log: {log}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"server at {url} was not ready within 60 s")


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the master's child processes."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if fields.get("PPid", "").strip() == str(master):
                children.append(int(status.parent.name))
    return children


def worker_memory_mb(master: int) -> list[float]:
    """Resident memory of each gunicorn worker, in MB."""
    sizes = []
    for worker in worker_pids(master):
        with contextlib.suppress(OSError, KeyError, ValueError):
            status = Path(f"/proc/{worker}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(sizes)


BALANCE_TRIES = 20
"""wrk runs started before one gets its connections spread evenly over the workers (see ``drive``)."""
SPREAD_WAIT_SECONDS = 3.0
"""How long a new wrk run gets for all its connections to be accepted by the workers before its spread is judged."""


def drive(wrk: str, url: str, body: Path, seconds: int, connections: int, master: int) -> dict[str, Any]:
    """Warm up briefly, then measure with wrk; returns throughput, latency percentiles in ms and how wrk's
    connections were spread over the server's workers.

    gunicorn's workers share one listening socket, and whichever wakes first accepts: wrk's keep-alive
    connections, opened at once, may land 4/4, 5/3 or 8/0 on two workers, which moves throughput by up to 2x and
    says nothing about the app. The spread is judged once every connection has been accepted (one still waiting
    in the listen queue would make 3/2 of 8 look even), and a run whose spread is uneven is stopped at once and
    started again (every app gets the same treatment). The spread measured is reported with the figures, and
    ``balanced`` says whether it was even; after ``BALANCE_TRIES`` starts an uneven run is kept, with a warning.
    """
    script = Path(__file__).with_name("post.lua")
    common = [wrk, "-t", str(min(2, connections)), "-c", str(connections), "-s", str(script)]
    subprocess.run([*common, "-d", "2s", url, "--", str(body)], check=True, capture_output=True)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    workers = len(worker_pids(master))
    if not workers:
        raise SystemExit(f"no gunicorn workers found under master {master}")
    for attempt in range(1, BALANCE_TRIES + 1):
        process = subprocess.Popen([*common, "-d", f"{seconds}s", url, "--", str(body)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        spread = accepted_spread(master, port, connections)
        balanced = (len(spread) == workers and sum(spread) == connections and max(spread) - min(spread) <= 1)
        if balanced or attempt == BALANCE_TRIES:
            break
        process.kill()
        process.communicate()
        settled = time.monotonic() + 30  # a slow app finishes the killed run's requests before it drops them
        while sum(connection_spread(master, port)) and time.monotonic() < settled:
            time.sleep(0.1)
    if not balanced:
        print(f"warning: connections per worker still {spread} ({connections} connections, {workers} workers) "
              f"after {BALANCE_TRIES} starts; this run is kept and marked unbalanced", flush=True)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"wrk failed: {stderr.strip()}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    return {
        "rps": figures["requests"] / figures["seconds"],
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "mean_ms": figures["mean_us"] / 1000,
        "errors": figures["errors"],
        "requests": figures["requests"],
        "connections_per_worker": spread,
        "balanced": balanced,
        "starts": attempt,
    }


def accepted_spread(master: int, port: int, connections: int) -> list[int]:
    """``connection_spread`` once the workers hold all ``connections`` (or after ``SPREAD_WAIT_SECONDS``): wrk
    opens them at once, but the workers accept them one by one."""
    deadline = time.monotonic() + SPREAD_WAIT_SECONDS
    while True:
        time.sleep(0.05)
        spread = connection_spread(master, port)
        if sum(spread) == connections or time.monotonic() >= deadline:
            return spread


def connection_spread(master: int, port: int) -> list[int]:
    """Established connections to ``port`` held by each worker of the gunicorn master, most first."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    established.add(fields[9])
    spread = []
    for worker in worker_pids(master):
        sockets = 0
        for fd in Path(f"/proc/{worker}/fd").glob("*"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                sockets += target.startswith("socket:[") and target[8:-1] in established
        spread.append(sockets)
    return sorted(spread, reverse=True)


def service_url(base: str, body: Path) -> str:
    """The URL of the service registered for the body's hook (``ketamine-order-sign``, ``ketamine-patient-view``)."""
    return f"{base}/cds-services/ketamine-{json.loads(body.read_bytes())['hook']}"


def check_answer(url: str, body: Path) -> int:
    """The number of cards the app answers with: the benchmark measures real answers, not errors."""
    request = urllib.request.Request(url, data=body.read_bytes(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.load(response)["cards"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per app and scenario, taken in turn; the "
                        "best is reported (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "results.json")
    parser.add_argument("--delay-ms", type=int, default=200, help="delay the sandbox FHIR server adds to every "
                        "answer in the fetch-mode scenario (default 200)")
    parser.add_argument("--postgres", default=POSTGRES, help="a PostgreSQL database URL through which each service "
                        f"run gets a new database of its own (default {POSTGRES}); empty: an SQLite file")
    parser.add_argument("--only", choices=PARTS, help="run one part: the scenarios against the three apps, or the "
                        "fetch-mode scenario (d) alone (default: both)")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    compile_sources()
    version = postgres_server(args.postgres)
    args.postgres = args.postgres if version else None
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "database": f"PostgreSQL {version}" if version else "SQLite",
    }
    with tempfile.TemporaryDirectory(prefix="kcds-bench-") as scratch:
        bodies = Path(scratch)
        for name, build in SCENARIOS.items():
            (bodies / f"{name}.json").write_text(json.dumps(build()))
        if args.only in (None, "apps"):
            results["apps"] = measure_apps(wrk, bodies, args)
            results["ratios"] = ratios(results["apps"])
            write(results, args.out)  # the figures so far, kept should the fetch-mode scenario fail
        if args.only in (None, "fetch"):
            results["fetch"] = fetch_mode(wrk, bodies, args)
    if results.get("fetch"):
        results.setdefault("ratios", {})["d_fetch_p50_over_bound"] = ratio(results["fetch"]["p50_ms"],
                                                                           fetch_bound(results["fetch"]))
    report(results)
    write(results, args.out)
    print(f"\nFigures written to {args.out}")
    return 0


PARTS = ("apps", "fetch")
"""What ``--only`` can run: scenarios (a) to (c) and (e) against the three apps; the fetch-mode scenario (d)."""


def measure_apps(wrk: str, bodies: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every scenario against the three apps, in turn, for ``--rounds`` rounds; the figures of each app."""
    with contextlib.ExitStack() as stack:
        # One at a time: each start is timed.
        servers = {app: stack.enter_context(served(app, postgres=args.postgres)) for app in APPS}
        rounds: dict[str, dict[str, list[dict[str, Any]]]] = {app: {} for app in APPS}
        for name in SCENARIOS:
            body = bodies / f"{name}.json"
            for number in range(1, args.rounds + 1):
                for app, server in servers.items():
                    url = service_url(server["url"], body)
                    run = {"cards": check_answer(url, body),
                           **drive(wrk, url, body, args.seconds, args.connections, server["pid"])}
                    rounds[app].setdefault(name, []).append(run)
                    print(f"{app:8} {name:20} round {number}  {run['rps']:8.0f} req/s  p50 {run['p50_ms']:6.2f} ms  "
                          f"p99 {run['p99_ms']:6.2f} ms  connections per worker {run['connections_per_worker']}"
                          f"{errors_note(run)}", flush=True)
        return {
            app: {
                "ready_seconds": server["ready_seconds"],
                "worker_rss_mb": worker_memory_mb(server["pid"]),
                "scenarios": {name: best(runs) for name, runs in rounds[app].items()},
                "rounds": rounds[app],
            }
            for app, server in servers.items()
        }


def write(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def errors_note(run: dict[str, Any]) -> str:
    """A warning for a run in which wrk counted errors (non-2xx answers, timeouts, socket errors): its requests
    per second include answers that are not real answers."""
    return f"  {run['errors']} ERRORS" if run["errors"] else ""


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the highest throughput: interference from the rest of the machine only ever slows a run.
    Rounds with errors count only when every round had some, since an error answer may be faster than a real one."""
    clean = [run for run in runs if not run["errors"]] or runs
    return max(clean, key=lambda run: run["rps"])


def fetch_mode(wrk: str, bodies: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Scenario (d): the (b) request without prefetch; the service reads the patient's data from the sandbox FHIR
    server, which delays every answer by ``--delay-ms``. Measured with one client, against the (b) request with
    prefetch on the same server, so the difference is the fetch path. The sandbox is a single-threaded test server:
    its answers wait out their delays side by side, but its own work on them runs one after another, so that work
    (``sandbox_work``) is measured and reported beside the figures, and counted in the bound."""
    request = order_sign(50, 3)
    try:
        sandbox = FhirSandbox(seed=seed_bundle({"bench": request}), delay_ms=args.delay_ms, page_size=100,
                              log_requests=True)
        sandbox.start()
    except (SandboxUnavailable, RuntimeError) as error:
        print(f"fetch mode skipped: {error}")
        return None
    try:
        body = bodies / "d-fetch-mode-50.json"
        body.write_text(json.dumps(without_prefetch(request, sandbox.base_url)))
        with served("service", {"CDS_FHIR_TIMEOUT_SECONDS": "5"}, "service-fetch", args.postgres) as server:
            url = f"{server['url']}/cds-services/ketamine-order-sign"
            prefetch = drive(wrk, url, bodies / "b-ketamine-50.json", args.seconds, 1, server["pid"])
            run = {"cards": check_answer(url, body), **drive(wrk, url, body, args.seconds, 1, server["pid"])}
            work = sandbox_work(sandbox, url, body)
    finally:
        sandbox.stop()
    print(f"service  d-fetch-mode-50      {run['rps']:8.0f} req/s  p50 {run['p50_ms']:6.2f} ms  "
          f"p99 {run['p99_ms']:6.2f} ms (1 client){errors_note(prefetch)}{errors_note(run)}", flush=True)
    return {"delay_ms": args.delay_ms, "prefetch_p50_ms": prefetch["p50_ms"], "prefetch_errors": prefetch["errors"],
            "sandbox": work, **run}


SANDBOX_LINE = re.compile(r"^GET (?P<path>\S+) \d{3} (?P<ms>[\d.]+) ms")
"""A request line of the sandbox's log (``server.mjs --log``): its own work on the request, the delay apart."""
WORK_CALLS = 10
"""Hook calls whose queries the sandbox's work is taken from."""


def sandbox_work(sandbox: FhirSandbox, url: str, body: Path) -> dict[str, Any]:
    """The sandbox's own work per hook call, by its own clock and without the delay: ``WORK_CALLS`` calls to the
    service, one at a time, and every query the service sent the sandbox for them, as it sent them. Their sum is
    what the single-threaded sandbox adds to a call (a FHIR server that answers in parallel would add only the
    longest); per resource type, the mean per call."""
    assert sandbox.log_file is not None
    start = settled_size(sandbox.log_file, sandbox.delay_ms / 1000 + 0.5)
    for _ in range(WORK_CALLS):
        check_answer(url, body)
    lines = sandbox.log_file.read_bytes()[start:].decode().splitlines()
    return work_per_call(lines, WORK_CALLS, urlsplit(sandbox.base_url).path)


def work_per_call(lines: list[str], calls: int, base_path: str) -> dict[str, Any]:
    """The sandbox's work on the GET requests its log ``lines`` name, per call of ``calls``: in all, and per
    resource type (the first segment of the path below ``base_path``), most first."""
    queries = [(found["path"], float(found["ms"])) for line in lines if (found := SANDBOX_LINE.match(line))]
    by_type: dict[str, float] = {}
    for path, ms in queries:
        kind = path.removeprefix(base_path.rstrip("/") + "/").split("/")[0]
        by_type[kind] = by_type.get(kind, 0.0) + ms / calls
    return {"ms_per_call": sum(ms for _, ms in queries) / calls, "queries_per_call": len(queries) / calls,
            "ms_per_call_by_type": dict(sorted(by_type.items(), key=lambda item: -item[1]))}


def settled_size(log: Path, quiet_seconds: float) -> int:
    """The log's size once it has not grown for ``quiet_seconds``: the queries of a call the load generator left
    in flight are not counted with the next calls'."""
    size = -1
    while (now := log.stat().st_size) != size:
        size = now
        time.sleep(quiet_seconds)
    return size


def fetch_bound(fetch: dict[str, Any]) -> float:
    """Scenario (d)'s bound: one and a half delays (the queries run in parallel: one delay, not one per query),
    the (b) call's own p50, and the sandbox's own work per call (its one thread works through the queries in turn)."""
    return 1.5 * fetch["delay_ms"] + fetch["prefetch_p50_ms"] + fetch["sandbox"]["ms_per_call"]


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or NaN when a run served nothing, so one failed run does not lose the rest."""
    return numerator / denominator if denominator else float("nan")


def ratios(apps: dict[str, Any]) -> dict[str, Any]:
    service, echo, naive = (apps[name]["scenarios"] for name in ("service", "echo", "naive"))
    per_request = {name: ratio(1000, service[name]["rps"]) for name in service}
    return {
        name: {
            "vs_echo_throughput": ratio(service[name]["rps"], echo[name]["rps"]),
            "vs_naive_throughput": ratio(service[name]["rps"], naive[name]["rps"]),
            "per_request_ms": per_request[name],
        }
        for name in service
    } | {"c_over_b_per_request": ratio(per_request["c-ketamine-500"], per_request["b-ketamine-50"]),
         "e_over_a_per_request": ratio(per_request["e-patient-view-50"], per_request["a-non-ketamine-50"])}


def marks(run: dict[str, Any]) -> str:
    """Flags for a report row whose figures are suspect: E, errors; U, an uneven spread of connections."""
    flags = ("E" if run["errors"] else "") + ("" if run.get("balanced", True) else "U")
    return f"  {flags}" if flags else ""


def report(results: dict[str, Any]) -> None:
    print(f"\nBenchmark {results['date']} on {results['machine']}, {results['connections']} connections, "
          f"{results['seconds']} s per run, the service's cards recorded in {results['database']}\n")
    if "apps" in results:
        report_apps(results)
    fetch = results.get("fetch")
    if fetch:
        work = fetch["sandbox"]
        prefetch_marks = "  (E: in the prefetch run the bound is taken from)" if fetch["prefetch_errors"] else ""
        print(f"fetch mode, 1 client, every FHIR answer delayed {fetch['delay_ms']} ms: p50 {fetch['p50_ms']:.1f} ms, "
              f"p99 {fetch['p99_ms']:.1f} ms; bound 1.5 x delay + prefetch p50 ({fetch['prefetch_p50_ms']:.1f} ms) + "
              f"the sandbox's own work per call ({work['ms_per_call']:.1f} ms) = {fetch_bound(fetch):.1f} ms"
              f"{marks(fetch)}{prefetch_marks}")
        kinds = ", ".join(f"{kind} {ms:.1f}" for kind, ms in work["ms_per_call_by_type"].items())
        print(f"  the sandbox's own work per call, {work['queries_per_call']:.1f} queries, ms: {kinds}")
    for app, data in results.get("apps", {}).items():
        memory = ", ".join(f"{size:.0f}" for size in data["worker_rss_mb"])
        print(f"{app:8} ready in {data['ready_seconds']:.2f} s; worker RSS MB: {memory}")


def report_apps(results: dict[str, Any]) -> None:
    print(f"{'scenario':22}{'app':9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'x echo':>9}{'x naive':>9}")
    for name in SCENARIOS:
        for app, data in results["apps"].items():
            run = data["scenarios"][name]
            echo = results["apps"]["echo"]["scenarios"][name]["rps"]
            naive = results["apps"]["naive"]["scenarios"][name]["rps"]
            print(f"{name:22}{app:9}{run['rps']:9.0f}{run['p50_ms']:9.2f}{run['p95_ms']:9.2f}{run['p99_ms']:9.2f}"
                  f"{ratio(run['rps'], echo):9.2f}{ratio(run['rps'], naive):9.2f}{marks(run)}")
    print("  (E: wrk counted errors in this run; U: its connections were spread unevenly over the workers)")
    print(f"\nper-request time at 500 medications / at 50: {results['ratios']['c_over_b_per_request']:.2f}")
    print(f"per-request time of patient-view without ketamine / order-sign without ketamine: "
          f"{results['ratios']['e_over_a_per_request']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
