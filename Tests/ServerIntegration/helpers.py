"""Shared pieces of the server integration tests: paths, the CLI's reference transcripts,
starting and stopping `deepspeech serve`, WAV/PCM helpers and /metrics parsing.

Nothing here mocks anything: the transcripts are the CLI binary's own, and the servers
are real `deepspeech serve` processes on loopback ports.
"""

import functools
import io
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import wave

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLIPS = os.path.join(ROOT, "Fixtures", "clips")
BINARY = os.path.abspath(os.path.join(ROOT, os.environ.get("DEEPSPEECH", ".build/release/deepspeech")))

# The parity clips (16 kHz 16-bit mono) and the odd formats the server must resample/downmix.
PARITY_CLIPS = [os.path.join(CLIPS, f"hy-0{i}.wav") for i in range(1, 6)]
ODD_CLIPS = [p for p in (os.path.join(CLIPS, "hy-02-8k.wav"), os.path.join(CLIPS, "hy-01-44k-stereo-float.wav"))
             if os.path.exists(p)]

# Compressed formats the CLI reads (FLAC, OGG/Vorbis): the file routes must take them too.
OTHER_FORMATS = [p for p in (os.path.join(CLIPS, "hy-03.flac"), os.path.join(CLIPS, "hy-04.ogg")) if os.path.exists(p)]

# How long a single request may take before the test calls it wedged.
REQUEST_TIMEOUT = 60


# ---------------------------------------------------------------- the CLI's reference output

def _run_cli(*args):
    out = subprocess.run([BINARY, *args], capture_output=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{BINARY} {' '.join(args)} exited {out.returncode}: {out.stderr.decode(errors='replace')}")
    return out.stdout.decode("utf-8")


@functools.lru_cache(maxsize=None)
def cli_text(clip):
    """`deepspeech --audio CLIP`: the one-shot transcript (one line)."""
    return _run_cli("--audio", clip).rstrip("\n")


@functools.lru_cache(maxsize=None)
def cli_subtitles(clip, fmt):
    """`deepspeech --output-format srt|vtt --audio CLIP`."""
    return _run_cli("--output-format", fmt, "--audio", clip)


@functools.lru_cache(maxsize=None)
def cli_stream_final(clip, chunk_ms=320):
    """`deepspeech --stream MS --audio CLIP`: its last stdout line is the final transcript."""
    lines = _run_cli("--stream", str(chunk_ms), "--audio", clip).rstrip("\n").split("\n")
    return lines[-1]


@functools.lru_cache(maxsize=None)
def cli_stream_partials(clip, chunk_ms=320):
    """`deepspeech --json --stream MS`: the partial transcript after every chunk."""
    doc = json.loads(_run_cli("--json", "--candidate_transcripts", "1", "--stream", str(chunk_ms), "--audio", clip))
    return doc["intermediate"]


@functools.lru_cache(maxsize=None)
def cli_words(clip):
    """`deepspeech --json`: the best transcript's words as (word, start, end)."""
    doc = json.loads(_run_cli("--json", "--candidate_transcripts", "1", "--audio", clip))
    return [(w["word"], w["start_time"], w["start_time"] + w["duration"]) for w in doc["transcripts"][0]["words"]]


# ---------------------------------------------------------------- audio helpers

def read_wav(path):
    """(rate, sample width in bytes, channels, frames) of a PCM WAV file."""
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())


def wav_duration(path):
    rate, width, channels, frames = read_wav(path)
    return len(frames) / (rate * width * channels)


def pcm16(path):
    """The raw 16-bit mono PCM inside a 16-bit mono WAV (what `?noheader=true` and streams take)."""
    rate, width, channels, frames = read_wav(path)
    assert width == 2 and channels == 1, f"{path}: not 16-bit mono"
    return rate, frames


def concat_wavs(paths, out_path):
    """Concatenate 16 kHz 16-bit mono WAVs into one longer clip (for requests that must stay busy)."""
    data = b"".join(pcm16(p)[1] for p in paths)
    with wave.open(out_path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(data)
    return out_path


def wav_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- servers

def free_ports(count):
    """`count` distinct free loopback TCP ports (held open together while picking them)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


class Server:
    """A `deepspeech serve` process on free loopback ports, stderr logged to a temp file."""

    def __init__(self, *extra_args, wyoming=True, startup_timeout=180):
        ports = free_ports(2)
        self.port = ports[0]
        self.wyoming_port = ports[1] if wyoming else None
        self.url = f"http://127.0.0.1:{self.port}"
        args = [BINARY, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if wyoming:
            args += ["--wyoming-port", str(self.wyoming_port)]
        args += list(extra_args)
        self.args = args
        self.log = tempfile.NamedTemporaryFile(prefix="deepspeech-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self._wait_ready(startup_timeout)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode} before listening:\n{self.log_text()}")
            if f"listening on http://127.0.0.1:{self.port}" in self.log_text():
                try:
                    status, body = http_get(self.url + "/healthz", timeout=2)
                    if status == 200 and json.loads(body).get("status") == "ok":
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_text()}")

    def log_text(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def terminate(self, timeout=60):
        """SIGTERM, then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        os.unlink(self.log.name)


# ---------------------------------------------------------------- /metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def parse_metrics(text):
    """Prometheus text -> {"name{labels}": value} (labels kept verbatim, as exposed)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        assert m, f"not a Prometheus sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def metric_sum(samples, name):
    """Sum of every sample of metric `name`, whatever its labels."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def metrics(url):
    status, body = http_get(url + "/metrics")
    assert status == 200
    return parse_metrics(body)


# ---------------------------------------------------------------- raw HTTP over a socket

def raw_request(port, data, timeout=10):
    """Send `data` (bytes) on a fresh connection and read until the server closes or the
    response is complete enough to parse; returns (status code, headers dict, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_response(s)


def read_response(sock):
    """Read one HTTP/1.1 response from `sock` (Content-Length bodies or until close)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response header: {buf!r}")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        want = int(headers["content-length"])
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def multipart(fields, file_field="file", file_name="audio.wav", file_bytes=b""):
    """A multipart/form-data body by hand (for raw-socket tests): (content type, body)."""
    boundary = "----deepspeech-test-boundary-7d1c"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
              f'Content-Type: audio/wav\r\n\r\n'.encode())
    out.write(file_bytes)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


def rss_kib(pid):
    """Resident memory of process `pid` in KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")
