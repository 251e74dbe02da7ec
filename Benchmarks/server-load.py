#!/usr/bin/env python3
"""Load test for `deepspeech serve`: N concurrent clients post clips for D seconds.

Usage:
  swift build -c release
  python3 Benchmarks/server-load.py                       # start a server, 16 clients x 60 s
  python3 Benchmarks/server-load.py -c 16 -d 20 --workers 2 --json
  python3 Benchmarks/server-load.py --url http://127.0.0.1:8080 --route stt
  python3 Benchmarks/server-load.py --server-arg=--scorer --server-arg=hy.scorer

Without --url it starts `deepspeech serve` ($DEEPSPEECH or --binary, default
.build/release/deepspeech) on a free loopback port with --workers (default: the number of
CPU cores), waits for /healthz, runs the load, then stops it with SIGTERM and checks that it
exits 0. With --url it loads a server that is already running (add --api-key if it has one).

Each client keeps one HTTP/1.1 connection and posts the clips (default Fixtures/clips/hy-01..05
.wav, 16 kHz WAV) round-robin, as fast as answers come, to the route chosen by --route:
  openai      POST /v1/audio/transcriptions (multipart; the default)
  inference   POST /inference (whisper.cpp, multipart)
  rhasspy     POST /api/speech-to-text (WAV body)
  stt         POST /stt (WAV body)
  transcribe  POST /transcribe (deepspeech.pytorch, multipart)
  predict     POST /predict (SINGA-Auto, base64 JSON)
Before the load, each clip is transcribed once alone; under load every answer must equal
that one (else it counts as a "wrong" error), so the run also checks that concurrency does
not change transcripts (--no-check to skip).

Reports requests, errors (by HTTP status or cause), throughput, latency p50/p90/p99/max of
successful requests, and audio seconds transcribed per wall-clock second (from the clips'
durations), plus the server's own processing seconds and queue depth from /metrics. --json
prints the same as one JSON object. Needs only the Python standard library.
"""

import argparse
import base64
import glob
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import wave

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROUTES = {
    "openai": "/v1/audio/transcriptions",
    "inference": "/inference",
    "rhasspy": "/api/speech-to-text",
    "stt": "/stt",
    "transcribe": "/transcribe",
    "predict": "/predict",
}
BOUNDARY = "----deepspeech-load-boundary"


def parse_args():
    p = argparse.ArgumentParser(description="Load test for deepspeech serve.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("-d", "--duration", type=float, default=60, help="seconds of load (default 60)")
    p.add_argument("--route", choices=sorted(ROUTES), default="openai", help="route to load (default openai)")
    p.add_argument("--clips", nargs="+", help="WAV files to post (default Fixtures/clips/hy-0[1-5].wav)")
    p.add_argument("--url", help="load this running server instead of starting one")
    p.add_argument("--api-key", help="Bearer key to send")
    p.add_argument("--binary", default=os.environ.get("DEEPSPEECH", os.path.join(ROOT, ".build/release/deepspeech")),
                   help="server binary (default $DEEPSPEECH or .build/release/deepspeech)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="--workers of the server started (default: CPU cores)")
    p.add_argument("--queue", type=int, help="--queue of the server started (default: the server's)")
    p.add_argument("--server-arg", action="append", default=[], help="extra argument for the server started")
    p.add_argument("--timeout", type=float, default=120, help="per-request timeout in seconds (default 120)")
    p.add_argument("--no-check", action="store_true", help="do not compare answers with the unloaded ones")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p.parse_args()


# ---------------------------------------------------------------- requests

def make_body(route, audio):
    """(content type, body bytes) posting `audio` (a WAV file's bytes) to `route`."""
    if route in ("openai", "inference", "transcribe"):
        parts = []
        if route == "openai":
            parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\ndeepspeech\r\n'.encode())
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
                     f'Content-Type: audio/wav\r\n\r\n'.encode() + audio + b"\r\n")
        parts.append(f"--{BOUNDARY}--\r\n".encode())
        return f"multipart/form-data; boundary={BOUNDARY}", b"".join(parts)
    if route == "predict":
        return "application/json", json.dumps({"query": base64.b64encode(audio).decode()}).encode()
    return "audio/wav", audio


def answer_text(route, status, body):
    """The transcript in a 200 answer of `route`."""
    text = body.decode("utf-8")
    if route in ("rhasspy", "stt"):
        return text[:-1] if text.endswith("\n") else text
    doc = json.loads(text)
    return {"transcribe": doc.get("transcription"), "predict": doc.get("prediction")}.get(route, doc.get("text"))


class Client:
    """One keep-alive HTTP/1.1 connection, reopened after errors."""

    def __init__(self, url, timeout, api_key):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.conn = None

    def request(self, method, path, body=None, content_type=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, data
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def scrape(client):
    """A few numbers from /metrics (None when unavailable)."""
    try:
        status, body = client.request("GET", "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        if name in ("deepspeech_audio_seconds_total", "deepspeech_processing_seconds_total",
                    "deepspeech_queue_depth", "deepspeech_busy_workers", "deepspeech_workers"):
            out[name] = float(value)
    return out


# ---------------------------------------------------------------- server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args):
    port = free_port()
    cmd = [args.binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    if args.queue is not None:
        cmd += ["--queue", str(args.queue)]
    if args.api_key:
        cmd += ["--api-key", args.api_key]
    cmd += args.server_arg
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    probe = Client(url, 2, None)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            sys.exit(f"server exited {proc.returncode}: {log.read().decode(errors='replace')}")
        try:
            if probe.request("GET", "/healthz")[0] == 200:
                return proc, url, log
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("server not ready after 180 s")


# ---------------------------------------------------------------- load

def main():
    args = parse_args()
    clips = args.clips or sorted(glob.glob(os.path.join(ROOT, "Fixtures/clips/hy-0[1-5].wav")))
    if not clips:
        sys.exit("no clips")
    loads = []
    for path in clips:
        with wave.open(path, "rb") as w:
            seconds = w.getnframes() / w.getframerate()
        with open(path, "rb") as f:
            content_type, body = make_body(args.route, f.read())
        loads.append({"path": path, "seconds": seconds, "content_type": content_type, "body": body})

    proc = log = None
    url = args.url
    if url is None:
        proc, url, log = start_server(args)
    url = url.rstrip("/")
    path = ROUTES[args.route]
    control = Client(url, args.timeout, args.api_key)

    # Each clip alone first: the expected answers (and a warm-up).
    for load in loads:
        status, body = control.request("POST", path, load["body"], load["content_type"])
        if status != 200:
            sys.exit(f"warm-up {os.path.basename(load['path'])}: HTTP {status}: {body[:300]!r}")
        load["expected"] = answer_text(args.route, status, body)
    before = scrape(control)

    lock = threading.Lock()
    latencies, errors = [], {}
    audio_done = [0.0]
    queue_peak = [0.0]
    stop_at = time.monotonic() + args.duration

    def count_error(key):
        with lock:
            errors[key] = errors.get(key, 0) + 1

    def worker(index):
        client = Client(url, args.timeout, args.api_key)
        i = index
        while time.monotonic() < stop_at:
            load = loads[i % len(loads)]
            i += 1
            started = time.monotonic()
            try:
                status, body = client.request("POST", path, load["body"], load["content_type"])
            except (OSError, http.client.HTTPException) as e:
                count_error(type(e).__name__)
                time.sleep(0.05)
                continue
            elapsed = time.monotonic() - started
            if status != 200:
                count_error(f"HTTP {status}")
                if status == 503:
                    time.sleep(0.05)
                continue
            if not args.no_check and answer_text(args.route, status, body) != load["expected"]:
                count_error("wrong transcript")
                continue
            with lock:
                latencies.append(elapsed)
                audio_done[0] += load["seconds"]
        client.close()

    def sample_queue():
        probe = Client(url, 5, args.api_key)
        while time.monotonic() < stop_at:
            m = scrape(probe)
            if m and "deepspeech_queue_depth" in m:
                queue_peak[0] = max(queue_peak[0], m["deepspeech_queue_depth"])
            time.sleep(0.5)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sample_queue, daemon=True))
    for t in threads:
        t.start()
    for t in threads[:-1]:
        t.join()
    wall = time.monotonic() - started
    after = scrape(control)

    lat = sorted(latencies)
    report = {
        "url": url, "route": path, "clients": args.clients, "duration_s": round(wall, 2),
        "clips": len(loads), "workers": args.workers if proc else None,
        "requests": len(lat) + sum(errors.values()), "ok": len(lat), "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "requests_per_s": round(len(lat) / wall, 2),
        "latency_s": {k: (round(v, 4) if v is not None else None) for k, v in
                      {"p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
                       "max": lat[-1] if lat else None}.items()},
        "audio_seconds": round(audio_done[0], 2),
        "audio_seconds_per_s": round(audio_done[0] / wall, 2),
        "queue_depth_peak": queue_peak[0],
    }
    if before and after and "deepspeech_processing_seconds_total" in after:
        audio = after["deepspeech_audio_seconds_total"] - before["deepspeech_audio_seconds_total"]
        processing = after["deepspeech_processing_seconds_total"] - before["deepspeech_processing_seconds_total"]
        report["server_audio_seconds"] = round(audio, 2)
        report["server_real_time_factor"] = round(processing / audio, 4) if audio else None
    control.close()

    if proc is not None:
        proc.send_signal(signal.SIGTERM)
        try:
            report["server_exit_status"] = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            report["server_exit_status"] = "killed after 60 s"

    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        l = report["latency_s"]
        fmt = lambda v: "-" if v is None else f"{v * 1000:.0f} ms"
        print(f"deepspeech serve load: {args.clients} clients x {wall:.1f} s on {path} ({url})"
              + (f", {args.workers} workers" if proc else ""))
        print(f"  requests      {report['requests']} ({report['ok']} ok, {report['errors']} errors"
              + (f": {', '.join(f'{k} x{v}' for k, v in sorted(errors.items()))}" if errors else "") + ")")
        print(f"  throughput    {report['requests_per_s']} requests/s, "
              f"{report['audio_seconds_per_s']} audio s per wall s ({report['audio_seconds']} s of audio)")
        print(f"  latency       p50 {fmt(l['p50'])}, p90 {fmt(l['p90'])}, p99 {fmt(l['p99'])}, max {fmt(l['max'])}")
        print(f"  queue depth   peak {report['queue_depth_peak']:.0f}")
        if "server_real_time_factor" in report:
            print(f"  server        {report['server_audio_seconds']} audio s, real-time factor "
                  f"{report['server_real_time_factor']} per transcription")
        if proc is not None:
            print(f"  server exit   {report['server_exit_status']} after SIGTERM")
    failed = report["errors"] > 0 or (proc is not None and report.get("server_exit_status") != 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
