"""Faults: clients that vanish mid-upload or mid-stream, malformed audio, huge declared
bodies, slow clients, a full queue and SIGTERM with requests in flight. After each, the
server must still answer a normal request correctly and no worker may stay busy.

Uses raw sockets where a well-behaved client library would not misbehave on purpose, and
the real clients (openai, requests, websockets, wyoming) for everything else.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient

import helpers
from helpers import PARITY_CLIPS, REQUEST_TIMEOUT, cli_text
from test_clients import stream_clip, wyoming_transcribe

CLIP = PARITY_CLIPS[0]


def assert_healthy(server):
    """A normal request is answered correctly, and soon no worker is busy and nothing queued."""
    with open(CLIP, "rb") as f:
        text = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0,
                             timeout=REQUEST_TIMEOUT).audio.transcriptions.create(model="deepspeech", file=f).text
    assert text == cli_text(CLIP)
    deadline = time.monotonic() + 5
    while True:
        m = helpers.metrics(server.url)
        if m["deepspeech_busy_workers"] == 0 and m["deepspeech_queue_depth"] == 0 and m["deepspeech_open_streams"] == 0:
            return
        assert time.monotonic() < deadline, f"server still busy: {m}"
        time.sleep(0.1)


def post_headers(path, content_length, content_type="audio/wav", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {content_length}\r\n{extra}\r\n").encode()


def reset_close(sock):
    """Close with a TCP RST (SO_LINGER 0), as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture(scope="module")
def limits_server():
    """A server with small limits: 1 worker, queue 1, 1 MiB bodies, 10 s audio, 2 s idle timeout."""
    with helpers.Server("--workers", "1", "--queue", "1", "--max-body-mb", "1", "--max-audio-seconds", "10",
                        "--idle-timeout", "2", "--request-timeout", "20", wyoming=False) as s:
        yield s


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """~7 s of speech (hy-01 + hy-02), under the limits server's 10 s."""
    return helpers.concat_wavs(PARITY_CLIPS[:2], str(tmp_path_factory.mktemp("clips") / "hy-01-02.wav"))


# ---------------------------------------------------------------- vanishing clients

@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("route", ["/v1/audio/transcriptions", "/stt"])
def test_disconnect_mid_upload(server, route, how):
    audio = helpers.wav_bytes(CLIP)
    if route == "/stt":
        content_type, body = "audio/wav", audio
    else:
        content_type, body = helpers.multipart({"model": "deepspeech"}, file_bytes=audio)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(post_headers(route, len(body), content_type) + body[:len(body) // 2])
        time.sleep(0.05)
        if how == "reset":
            reset_close(s)
        else:
            s.close()
    assert_healthy(server)


def test_disconnect_while_transcribing(server):
    """The client goes away after a complete upload, while its request is being worked on."""
    content_type, body = helpers.multipart({"model": "deepspeech"}, file_bytes=helpers.wav_bytes(CLIP))
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(post_headers("/v1/audio/transcriptions", len(body), content_type) + body)
        reset_close(s)
    assert_healthy(server)


def test_websocket_closed_without_eof(server):
    rate, pcm = helpers.pcm16(CLIP)
    ws_url = server.url.replace("http://", "ws://") + "/v1/stream"
    with ws_connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"config": {"sample_rate": rate}}))
        for i in range(3):
            ws.send(pcm[i * 10240:(i + 1) * 10240])
            assert "partial" in json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
    # The context manager sent a close frame without {"eof": 1}.
    assert_healthy(server)
    _, final = stream_clip(server, CLIP)
    assert final["text"] == cli_text(CLIP)


def test_websocket_dropped_mid_frame(server):
    """A raw WebSocket handshake, half a binary frame, then a TCP reset."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    status, _, _ = helpers.read_response(s)
    assert status == 101
    payload = helpers.pcm16(CLIP)[1][:10240]
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    frame = bytes([0x82, 0x80 | 126]) + struct.pack(">H", len(payload)) + mask + masked
    s.sendall(frame)                      # one whole frame (answered with a partial) ...
    s.sendall(frame[:len(frame) // 2])    # ... and half of the next
    time.sleep(0.2)
    reset_close(s)
    assert_healthy(server)


def test_wyoming_dropped_mid_audio(server):
    async def drop():
        rate, pcm = helpers.pcm16(CLIP)
        c = AsyncTcpClient("127.0.0.1", server.wyoming_port)
        await c.connect()
        await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        await c.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm[:16000]).event())
        await c.disconnect()
    asyncio.run(drop())
    assert_healthy(server)
    assert asyncio.run(wyoming_transcribe(server.wyoming_port, CLIP)) == cli_text(CLIP)


# ---------------------------------------------------------------- malformed audio

MALFORMED = {
    "not-audio": b"this is not audio at all, just some text in a file\n" * 20,
    "truncated-riff": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "zero-channels": (b"RIFF" + struct.pack("<I", 36) + b"WAVE" + b"fmt " +
                      struct.pack("<IHHIIHH", 16, 1, 0, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", 0)),
    "empty": b"",
}
PROBLEM_WORDS = ("wav", "riff", "audio", "format", "header", "empty", "channel", "read", "decode", "invalid")


def assert_names_problem(message):
    assert isinstance(message, str) and message.strip(), "empty error message"
    assert any(w in message.lower() for w in PROBLEM_WORDS), f"message does not name the problem: {message!r}"


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_wav_openai(server, kind, tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(MALFORMED[kind])
    with open(path, "rb") as f, pytest.raises(openai.BadRequestError) as caught:
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0).audio.transcriptions.create(
            model="deepspeech", file=f)
    assert caught.value.status_code == 400
    error = caught.value.response.json()["error"]
    assert {"message", "type", "param", "code"} <= error.keys()
    assert_names_problem(error["message"])
    assert_healthy(server)


@pytest.mark.parametrize("kind", ["not-audio", "truncated-riff", "zero-channels"])
@pytest.mark.parametrize("route", ["/stt", "/api/speech-to-text"])
def test_malformed_wav_body_routes(server, route, kind):
    r = requests.post(server.url + route, data=MALFORMED[kind], headers={"Content-Type": "audio/wav"},
                      timeout=REQUEST_TIMEOUT)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert_names_problem(doc["error"]["message"] if "error" in doc else doc.get("message"))


def test_malformed_predict(server):
    r = requests.post(server.url + "/predict", json={"query": "%%% not base64 %%%"}, timeout=REQUEST_TIMEOUT)
    assert 400 <= r.status_code < 500, r.text
    r = requests.post(server.url + "/predict", data=b"{not json", headers={"Content-Type": "application/json"},
                      timeout=REQUEST_TIMEOUT)
    assert 400 <= r.status_code < 500, r.text


# ---------------------------------------------------------------- huge bodies

@pytest.mark.parametrize("route", ["/v1/audio/transcriptions", "/inference", "/transcribe", "/stt",
                                   "/api/speech-to-text", "/predict"])
def test_content_length_2gb_is_413_at_once(server, route):
    content_type = {"/v1/audio/transcriptions": "multipart/form-data; boundary=x", "/inference": "multipart/form-data; boundary=x",
                    "/transcribe": "multipart/form-data; boundary=x", "/predict": "application/json"}.get(route, "audio/wav")
    rss_before = helpers.rss_kib(server.pid)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    started = time.monotonic()
    s.sendall(post_headers(route, 2147483648, content_type) + b"\0" * 65536)
    status, headers, body = helpers.read_response(s)
    elapsed = time.monotonic() - started
    assert status == 413, body
    assert elapsed < 2, f"413 took {elapsed:.2f} s"
    if body:
        assert json.loads(body)
    # Keep pushing: whatever the server does with the rest, it must not buffer it.
    sent = 0
    try:
        chunk = b"\0" * (1 << 20)
        while sent < 256 << 20:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass                                  # the server closed the connection: fine
    s.close()
    grown = helpers.rss_kib(server.pid) - rss_before
    assert grown < 64 * 1024, f"server RSS grew by {grown} KiB after {sent >> 20} MiB of refused body"
    assert_healthy(server)


def test_content_length_over_max_body_is_413(limits_server):
    s = socket.create_connection(("127.0.0.1", limits_server.port), timeout=5)
    s.sendall(post_headers("/stt", 2 << 20))
    status, _, body = helpers.read_response(s)
    s.close()
    assert status == 413, body


def test_chunked_body_over_max_body_is_413(limits_server):
    """No Content-Length: the limit must hold while the body streams in."""
    s = socket.create_connection(("127.0.0.1", limits_server.port), timeout=10)
    s.sendall(b"POST /stt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"\0" * 65536
    try:
        for _ in range(64):                   # 4 MiB against a 1 MiB limit
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    status, _, body = helpers.read_response(s)
    s.close()
    assert status == 413, body
    assert_healthy(limits_server)


def test_audio_over_max_seconds_is_413(limits_server, tmp_path):
    clip = helpers.concat_wavs(PARITY_CLIPS[:4], str(tmp_path / "long.wav"))   # ~15 s, ~470 KiB
    assert helpers.wav_duration(clip) > 10
    with open(clip, "rb") as f:
        r = requests.post(limits_server.url + "/v1/audio/transcriptions", files={"file": f},
                          data={"model": "deepspeech"}, timeout=REQUEST_TIMEOUT)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["message"]


def test_stream_over_max_seconds_is_stopped(limits_server, tmp_path):
    """--max-audio-seconds 10 holds for a WebSocket stream too: ~15 s of audio is cut off
    with an error (a JSON error message or a close), not transcribed to the end."""
    _, pcm = helpers.pcm16(helpers.concat_wavs(PARITY_CLIPS[:4], str(tmp_path / "long.wav")))
    ws_url = limits_server.url.replace("http://", "ws://") + "/v1/stream"
    stopped_at = None
    with ws_connect(ws_url, open_timeout=10) as ws:
        try:
            for i in range(0, len(pcm), 10240):
                ws.send(pcm[i:i + 10240])
                message = json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
                if "partial" not in message:
                    assert "error" in message, message
                    stopped_at = i / 32000
                    break
            else:
                ws.send(json.dumps({"eof": 1}))
                message = json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
                assert "error" in message, f"15 s stream fully transcribed despite --max-audio-seconds 10: {message}"
                stopped_at = len(pcm) / 32000
        except ConnectionClosed:
            stopped_at = i / 32000
    assert stopped_at is not None and stopped_at <= 11, stopped_at
    assert_healthy(limits_server)


# ---------------------------------------------------------------- slow clients

def test_slowloris_does_not_starve_normal_clients(server):
    stop = threading.Event()
    request_line = b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "

    def dribble():
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(request_line[:10])
                while not stop.is_set():
                    s.sendall(b"a")
                    stop.wait(0.5)
        except OSError:
            pass                              # dropped by the server: fine

    threads = [threading.Thread(target=dribble) for _ in range(16)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            r = requests.post(server.url + "/stt", data=helpers.wav_bytes(CLIP), timeout=REQUEST_TIMEOUT)
            elapsed = time.monotonic() - started
            assert r.status_code == 200 and r.text.rstrip("\n") == cli_text(CLIP)
            assert elapsed < 2, f"normal request took {elapsed:.2f} s during slowloris"
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()


@pytest.mark.parametrize("sent", [b"", b"POST /stt HTTP/1.1\r\nHost: 127.0",
                                  b"POST /stt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nRIFF"],
                         ids=["nothing", "half-headers", "half-body"])
def test_silent_client_is_dropped(limits_server, sent):
    """--idle-timeout 2: a connection that goes silent (before, in or after its headers) is closed."""
    s = socket.create_connection(("127.0.0.1", limits_server.port), timeout=8)
    s.sendall(sent)
    started = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        pytest.fail("silent connection still open after 8 s (--idle-timeout 2)")
    finally:
        s.close()
    assert time.monotonic() - started < 5


def test_dribbling_client_is_dropped(limits_server):
    """A client sending one header byte a second never finishes its request: it must be cut
    off (the limits server has --idle-timeout 2), not held for as long as it keeps dribbling."""
    s = socket.create_connection(("127.0.0.1", limits_server.port), timeout=1)
    s.sendall(b"POST /stt HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
    started = time.monotonic()
    dropped = False
    while time.monotonic() - started < 12:
        try:
            s.sendall(b"a")
            if s.recv(65536) == b"":
                dropped = True
                break
        except socket.timeout:
            continue                          # no answer yet; send the next byte
        except OSError:
            dropped = True
            break
    s.close()
    assert dropped, "a client dribbling header bytes was held for 12 s"


# ---------------------------------------------------------------- full queue

def test_queue_full_is_503_with_retry_after(limits_server, long_clip):
    """1 worker, queue 1: of 8 simultaneous requests some must be refused with 503 at once."""
    text = cli_text(long_clip)
    audio = helpers.wav_bytes(long_clip)

    def post(_):
        started = time.monotonic()
        r = requests.post(limits_server.url + "/v1/audio/transcriptions", files={"file": ("a.wav", audio)},
                          data={"model": "deepspeech"}, timeout=REQUEST_TIMEOUT)
        return r, time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    ok = [r for r, _ in results if r.status_code == 200]
    busy = [(r, t) for r, t in results if r.status_code == 503]
    assert len(ok) + len(busy) == 8, [r.status_code for r, _ in results]
    assert len(ok) >= 2 and busy, [r.status_code for r, _ in results]
    for r in ok:
        assert r.json()["text"] == text
    for r, elapsed in busy:
        assert int(r.headers["Retry-After"]) >= 1
        error = r.json()["error"]
        assert {"message", "type", "param", "code"} <= error.keys()
        assert elapsed < 2, f"503 took {elapsed:.2f} s"
    assert_healthy(limits_server)


# ---------------------------------------------------------------- SIGTERM drains

def test_sigterm_finishes_accepted_requests(tmp_path):
    clip = helpers.concat_wavs(PARITY_CLIPS[:3], str(tmp_path / "hy-01-03.wav"))   # ~11 s of audio
    text = cli_text(clip)
    audio = helpers.wav_bytes(clip)
    server = helpers.Server(wyoming=False)
    try:
        done_before = helpers.metrics(server.url)["deepspeech_real_time_factor_count"]
        results = [None] * 8

        def post(i):
            try:
                r = requests.post(server.url + "/v1/audio/transcriptions", files={"file": ("a.wav", audio)},
                                  data={"model": "deepspeech"}, timeout=REQUEST_TIMEOUT)
                results[i] = (r.status_code, r.text, time.monotonic())
            except requests.RequestException as e:
                results[i] = (None, repr(e), time.monotonic())

        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        # Wait until the server holds all 8 (running, queued or done) with some still queued.
        deadline = time.monotonic() + 20
        while True:
            m = helpers.metrics(server.url)
            held = m["deepspeech_busy_workers"] + m["deepspeech_queue_depth"] + \
                m["deepspeech_real_time_factor_count"] - done_before
            if held >= 8 and m["deepspeech_queue_depth"] >= 1:
                break
            assert time.monotonic() < deadline, f"8 requests never all in flight: {m}"
            time.sleep(0.02)
        sigterm_at = time.monotonic()
        server.proc.send_signal(15)
        # New connections are no longer served once the server is draining.
        time.sleep(0.2)
        try:
            late = requests.post(server.url + "/stt", data=audio, timeout=REQUEST_TIMEOUT).status_code
        except requests.ConnectionError:
            late = None
        for t in threads:
            t.join(REQUEST_TIMEOUT)
        rc = server.proc.wait(REQUEST_TIMEOUT)

        for status, body, _ in results:
            assert status == 200, f"accepted request failed during shutdown: {status} {body}"
            assert json.loads(body)["text"] == text
        assert any(finished > sigterm_at + 0.2 for _, _, finished in results), "nothing was in flight at SIGTERM"
        assert late in (None, 503), f"request after SIGTERM got {late}"
        assert rc == 0, f"exit status {rc} after SIGTERM:\n{server.log_text()}"
    finally:
        server.__exit__(None, None, None)
