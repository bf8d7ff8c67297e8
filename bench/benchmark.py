"""Benchmark the service against an echo and a naive baseline in the same run, on loopback.

Each app runs under the production server (gunicorn with service/gunicorn_conf.py); wrk drives it with 8
connections. Prints requests per second, p50/p95/p99 latency and ratios to the baselines for every scenario,
memory per worker and time from process start to ready, and writes the same figures as JSON.

Usage: python -m bench.benchmark [--seconds 10] [--connections 8] [--out bench/out/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from bench.scenarios import SCENARIOS, order_sign
from service.fhir_sandbox import FhirSandbox, SandboxUnavailable, seed_bundle, without_prefetch

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(name: str, extra_env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Start one app under gunicorn; yield its URL, ready time and master pid; stop it with SIGTERM."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    env.pop("CDS_LOG_LEVEL", None)
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
               APPS[name]]
    log = LOGS / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
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


def worker_memory_mb(master: int) -> list[float]:
    """Resident memory of each gunicorn worker (children of the master), in MB."""
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            sizes.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(sizes)


def drive(wrk: str, url: str, body: Path, seconds: int, connections: int) -> dict[str, Any]:
    """Warm up briefly, then measure with wrk; returns throughput and latency percentiles in ms."""
    script = Path(__file__).with_name("post.lua")
    common = [wrk, "-t", str(min(2, connections)), "-c", str(connections), "-s", str(script)]
    subprocess.run([*common, "-d", "2s", url, "--", str(body)], check=True, capture_output=True)
    result = subprocess.run([*common, "-d", f"{seconds}s", url, "--", str(body)], check=True,
                            capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "rps": figures["requests"] / figures["seconds"],
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "mean_ms": figures["mean_us"] / 1000,
        "errors": figures["errors"],
        "requests": figures["requests"],
    }


def check_answer(url: str, body: Path) -> int:
    """The number of cards the app answers with: the benchmark measures real answers, not errors."""
    request = urllib.request.Request(url, data=body.read_bytes(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.load(response)["cards"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per run (default 10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "results.json")
    parser.add_argument("--delay-ms", type=int, default=200, help="delay the sandbox FHIR server adds to every "
                        "answer in the fetch-mode scenario (default 200)")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    bodies = Path(tempfile.mkdtemp(prefix="kcds-bench-"))
    for name, build in SCENARIOS.items():
        (bodies / f"{name}.json").write_text(json.dumps(build()))

    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "connections": args.connections,
        "seconds": args.seconds,
        "apps": {},
    }
    for app in APPS:
        with served(app) as server:
            runs = {}
            for name in SCENARIOS:
                body = bodies / f"{name}.json"
                url = f"{server['url']}/cds-services/ketamine-order-sign"
                runs[name] = {"cards": check_answer(url, body), **drive(wrk, url, body, args.seconds,
                                                                        args.connections)}
                print(f"{app:8} {name:20} {runs[name]['rps']:8.0f} req/s  p50 {runs[name]['p50_ms']:6.2f} ms  "
                      f"p99 {runs[name]['p99_ms']:6.2f} ms", flush=True)
            results["apps"][app] = {
                "ready_seconds": server["ready_seconds"],
                "worker_rss_mb": worker_memory_mb(server["pid"]),
                "scenarios": runs,
            }
    results["fetch"] = fetch_mode(wrk, bodies, args)
    results["ratios"] = ratios(results["apps"])
    if results["fetch"]:
        fetch = results["fetch"]
        results["ratios"]["d_fetch_p50_over_bound"] = fetch["p50_ms"] / (
            1.5 * fetch["delay_ms"] + fetch["prefetch_p50_ms"])
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nFigures written to {args.out}")
    return 0


def fetch_mode(wrk: str, bodies: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Scenario (d): the (b) request without prefetch; the service reads the patient's data from the sandbox FHIR
    server, which delays every answer by ``--delay-ms``. Measured with one client, against the (b) request with
    prefetch on the same server, so the difference is the fetch path; the sandbox's own search time (it is a
    single-threaded test server) is measured and reported beside it."""
    request = order_sign(50, 3)
    try:
        sandbox = FhirSandbox(seed=seed_bundle({"bench": request}), delay_ms=args.delay_ms, page_size=100)
        sandbox.start()
    except (SandboxUnavailable, RuntimeError) as error:
        print(f"fetch mode skipped: {error}")
        return None
    try:
        body = bodies / "d-fetch-mode-50.json"
        body.write_text(json.dumps(without_prefetch(request, sandbox.base_url)))
        search = sandbox_search_ms(sandbox.base_url, request["context"]["patientId"]) - args.delay_ms
        with served("service", {"CDS_FHIR_TIMEOUT_SECONDS": "5"}) as server:
            url = f"{server['url']}/cds-services/ketamine-order-sign"
            prefetch = drive(wrk, url, bodies / "b-ketamine-50.json", args.seconds, 1)
            run = {"cards": check_answer(url, body), **drive(wrk, url, body, args.seconds, 1)}
    finally:
        sandbox.stop()
    print(f"service  d-fetch-mode-50      {run['rps']:8.0f} req/s  p50 {run['p50_ms']:6.2f} ms  "
          f"p99 {run['p99_ms']:6.2f} ms (1 client)", flush=True)
    return {"delay_ms": args.delay_ms, "sandbox_search_ms": search, "prefetch_p50_ms": prefetch["p50_ms"], **run}


def sandbox_search_ms(base_url: str, patient: str) -> float:
    """The sandbox's time to answer the medication search the service sends (median of five, delay included)."""
    query = f"{base_url}/MedicationRequest?patient={patient}&status=active,on-hold,unknown,stopped,completed"
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with urllib.request.urlopen(query, timeout=30) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[2]


def ratios(apps: dict[str, Any]) -> dict[str, Any]:
    service, echo, naive = (apps[name]["scenarios"] for name in ("service", "echo", "naive"))
    per_request = {name: 1000 / service[name]["rps"] for name in service}
    return {
        name: {
            "vs_echo_throughput": service[name]["rps"] / echo[name]["rps"],
            "vs_naive_throughput": service[name]["rps"] / naive[name]["rps"],
            "per_request_ms": per_request[name],
        }
        for name in service
    } | {"c_over_b_per_request": per_request["c-ketamine-500"] / per_request["b-ketamine-50"]}


def report(results: dict[str, Any]) -> None:
    print(f"\nBenchmark {results['date']} on {results['machine']}, {results['connections']} connections, "
          f"{results['seconds']} s per run\n")
    print(f"{'scenario':22}{'app':9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'x echo':>9}{'x naive':>9}")
    for name in SCENARIOS:
        for app, data in results["apps"].items():
            run = data["scenarios"][name]
            echo = results["apps"]["echo"]["scenarios"][name]["rps"]
            naive = results["apps"]["naive"]["scenarios"][name]["rps"]
            print(f"{name:22}{app:9}{run['rps']:9.0f}{run['p50_ms']:9.2f}{run['p95_ms']:9.2f}{run['p99_ms']:9.2f}"
                  f"{run['rps'] / echo:9.2f}{run['rps'] / naive:9.2f}")
    print(f"\nper-request time at 500 medications / at 50: {results['ratios']['c_over_b_per_request']:.2f}")
    fetch = results.get("fetch")
    if fetch:
        bound = 1.5 * fetch["delay_ms"] + fetch["prefetch_p50_ms"]
        print(f"fetch mode, 1 client, every FHIR answer delayed {fetch['delay_ms']} ms: p50 {fetch['p50_ms']:.1f} ms, "
              f"p99 {fetch['p99_ms']:.1f} ms; bound 1.5 x delay + prefetch p50 ({fetch['prefetch_p50_ms']:.1f} ms) = "
              f"{bound:.1f} ms; the sandbox itself spends {fetch['sandbox_search_ms']:.1f} ms on the medication search")
    for app, data in results["apps"].items():
        memory = ", ".join(f"{size:.0f}" for size in data["worker_rss_mb"])
        print(f"{app:8} ready in {data['ready_seconds']:.2f} s; worker RSS MB: {memory}")


if __name__ == "__main__":
    sys.exit(main())
