"""API throughput: check_cost and credits under concurrent load on loopback.

What it does, end to end, with nothing in-process that could flatter the figures:

1. creates a throwaway data directory and a fresh key with ``pixelforge keys create``;
2. starts a real ``pixelforge serve`` in a subprocess on a free loopback port;
3. checks one ``check_cost`` answer (price and "balance untouched") and one ``credits`` answer;
   (after the engine's background warm-up has finished: /v1/status no longer says "starting");
4. drives each endpoint with ``wrk`` (another process; ``apt-get install wrk``) for a bounded time
   with a Lua script for the POST, and prints requests/s and p50/p90/p99 latency;
5. checks the balance is unchanged after all the check_cost traffic, stops the server.

The per-key rate limiter is switched off for the run (``PIXELFORGE_RATE_LIMIT_PER_MINUTE=0``): the
benchmark measures the server, not the limiter's refusal path. Speed is reported, never asserted.

    .venv/bin/python benchmarks/api_load.py --duration 10 --connections 32
    .venv/bin/python benchmarks/api_load.py --markdown     # a table for BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = [sys.executable, "-c", "import sys; from pixelforge.cli import app; sys.argv[0] = 'pixelforge'; app()"]
KEY_RE = re.compile(r"rdpk-[A-Za-z0-9_\-]+")
CHECK_COST_BODY = {
    "prompt": "A really cool corgi wearing sunglasses",
    "prompt_style": "rd_plus__default",
    "width": 256,
    "height": 256,
    "num_images": 1,
    "check_cost": True,
}
EXPECTED_CHECK_COST_USD = 0.058  # rd_plus 256x256: max(0.025, (65536+50000)/2000000) -> 0.058


@dataclass
class WrkResult:
    name: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses + socket errors
    raw: str
    server_cpu_ms_per_request: float | None = None  # user+system CPU of the server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {value!r}")
    n, unit = float(m.group(1)), m.group(2)
    return n * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(name: str, out: str) -> WrkResult:
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, flags=re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if not (rps and total and {"50", "90", "99"} <= set(pct)):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return WrkResult(
        name,
        float(rps.group(1)),
        to_ms(pct["50"]),
        to_ms(pct["90"]),
        to_ms(pct["99"]),
        int(total.group(1)),
        errors,
        out,
    )


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(name: str, url: str, lua: Path, args: argparse.Namespace, duration: float) -> WrkResult:
    cmd = [
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(lua),
        url,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=duration + 60).stdout
    return parse_wrk(name, out)


def write_lua(path: Path, key: str, method: str, body: dict | None) -> Path:
    lines = [f'wrk.method = "{method}"', f'wrk.headers["X-RD-Token"] = "{key}"']
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).replace("\\", "\\\\").replace('"', '\\"')
        lines += ['wrk.headers["Content-Type"] = "application/json"', f'wrk.body = "{payload}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def create_key(env: dict[str, str], balance: str) -> str:
    proc = subprocess.run(
        [*CLI, "keys", "create", "--name", "bench", "--balance", balance],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pixelforge keys create failed:\n{proc.stdout}\n{proc.stderr}")
    m = KEY_RE.search(proc.stdout + proc.stderr)
    if not m:
        raise RuntimeError(f"no rdpk- key in the output of keys create:\n{proc.stdout}")
    return m.group(0)


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 300.0) -> dict:
    """Wait until the server answers and its engine warm-up is over (no model "starting").

    The engine loads in a background thread at start-up (torch and diffusers imports, weights);
    measuring during that would measure the warm-up, not the API.
    """
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"pixelforge serve exited with {server.returncode}")
        try:
            r = httpx.get(f"{base}/v1/status", timeout=2)
            if r.status_code == 200:
                body = r.json()
                if "starting" not in (body.get("status") or {}).values():
                    return body
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"pixelforge serve not ready (engine still starting?) after {timeout:.0f} s: {body}")


def balance(base: str, key: str) -> float:
    r = httpx.get(f"{base}/v1/inferences/credits", headers={"X-RD-Token": key}, timeout=10)
    r.raise_for_status()
    return float(r.json()["balance"])


def markdown(results: list[WrkResult], args: argparse.Namespace) -> str:
    head = (
        "| endpoint | req/s | p50 ms | p90 ms | p99 ms | requests | errors | server CPU ms/req "
        "| req/s per dedicated core |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )

    def cpu(r: WrkResult) -> str:
        c = r.server_cpu_ms_per_request
        return "- | -" if not c else f"{c:.2f} | {1000 / c:,.0f}"

    rows = "".join(
        f"| {r.name} | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} "
        f"| {r.requests:,} | {r.errors} | {cpu(r)} |\n"
        for r in results
    )
    return head + rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per endpoint")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of unrecorded load first")
    ap.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (the server needs the other core)")
    ap.add_argument("--engine", default="tiny", help="PIXELFORGE_ENGINE for the server")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra argument for `pixelforge serve`")
    ap.add_argument("--only", choices=["check_cost", "credits"], help="run one endpoint only")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and the server log")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table at the end")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = ap.parse_args()
    if not shutil.which(args.wrk):
        print("wrk not found: apt-get install wrk (Debian) or pass --wrk PATH", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="pixelforge-bench-"))
    env = {
        **os.environ,
        "PIXELFORGE_DATA_DIR": str(work / "data"),
        "PIXELFORGE_RATE_LIMIT_PER_MINUTE": "0",
        "PIXELFORGE_ENGINE": args.engine,
    }
    env.pop("PIXELFORGE_DATABASE_URL", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = create_key(env, "1000")
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), *args.serve_arg],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: list[WrkResult] = []
    try:
        status = wait_ready(base, server)
        print(f"server ready: {json.dumps(status.get('status'))}", flush=True)
        start_balance = balance(base, key)
        r = httpx.post(f"{base}/v1/inferences", headers={"X-RD-Token": key}, json=CHECK_COST_BODY, timeout=10)
        r.raise_for_status()
        cost = r.json()["balance_cost"]
        if abs(cost - EXPECTED_CHECK_COST_USD) > 1e-9:
            raise RuntimeError(f"check_cost answered {cost}, expected {EXPECTED_CHECK_COST_USD}")

        targets = {
            "check_cost": (
                f"{base}/v1/inferences",
                write_lua(work / "check_cost.lua", key, "POST", CHECK_COST_BODY),
                "POST /v1/inferences (check_cost)",
            ),
            "credits": (
                f"{base}/v1/inferences/credits",
                write_lua(work / "credits.lua", key, "GET", None),
                "GET /v1/inferences/credits",
            ),
        }
        for name, (url, lua, label) in targets.items():
            if args.only and name != args.only:
                continue
            if args.warmup > 0:
                run_wrk(label, url, lua, args, args.warmup)
            cpu0 = process_cpu_s(server.pid)
            res = run_wrk(label, url, lua, args, args.duration)
            cpu1 = process_cpu_s(server.pid)
            if cpu0 is not None and cpu1 is not None and res.requests:
                res.server_cpu_ms_per_request = 1000 * (cpu1 - cpu0) / res.requests
            results.append(res)
            cpu = res.server_cpu_ms_per_request
            print(
                f"{label:36s} {res.requests_per_s:9,.0f} req/s  p50 {res.p50_ms:6.2f} ms  "
                f"p90 {res.p90_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms  errors {res.errors}  "
                f"server CPU {'-' if cpu is None else f'{cpu:.2f}'} ms/req",
                flush=True,
            )
        end_balance = balance(base, key)
        if end_balance != start_balance:
            raise RuntimeError(f"balance moved during check_cost load: {start_balance} -> {end_balance}")
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{platform.node()}: {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, engine {args.engine}, "
        "rate limit off, balance unchanged by check_cost"
    )
    load1, load5, _ = os.getloadavg()
    print(f"load average at the end: {load1:.2f} (1 min), {load5:.2f} (5 min)")
    if args.markdown:
        print()
        print(markdown(results, args), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
