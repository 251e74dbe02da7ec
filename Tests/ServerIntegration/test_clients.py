"""Every route of `deepspeech serve`, driven by the real client each one was made for, must
give exactly the transcript the CLI gives for the same clip (`deepspeech --audio CLIP`;
for the WebSocket stream, `deepspeech --stream 320 --audio CLIP`).

Clients: the `openai` package (/v1/audio/transcriptions), curl (/inference,
/api/speech-to-text, /stt, /transcribe, /healthz, /metrics), `requests` (/predict),
`websockets` (/v1/stream) and the `wyoming` package (Wyoming TCP).
"""

import asyncio
import base64
import json
import os
import re
import subprocess
import tempfile

import openai
import pytest
import requests
import websockets
from websockets.sync.client import connect as ws_connect
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

import helpers
from helpers import ODD_CLIPS, OTHER_FORMATS, PARITY_CLIPS, REQUEST_TIMEOUT, cli_text

ALL_CLIPS = PARITY_CLIPS + ODD_CLIPS


def clip_id(path):
    return os.path.basename(path)


def client(server, api_key="x"):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, timeout=REQUEST_TIMEOUT)


def curl(*args, data_file=None):
    """Run curl; returns (HTTP status, content type, body text)."""
    out = subprocess.run(["curl", "-sS", "--max-time", str(REQUEST_TIMEOUT), "-o", "-",
                          "-w", "\n%{http_code} %{content_type}", *args],
                         capture_output=True, check=True, timeout=REQUEST_TIMEOUT + 5)
    text = out.stdout.decode("utf-8")
    body, _, trailer = text.rpartition("\n")
    status, _, content_type = trailer.partition(" ")
    return int(status), content_type, body


def plain(body):
    """A text/plain transcript body without its (optional) final newline."""
    return body[:-1] if body.endswith("\n") else body


def subtitle_cues(body, vtt):
    """[(start, end, text)] of an SRT or WebVTT document, timestamps as seconds."""
    stamp = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"
    cues = []
    blocks = [b for b in re.split(r"\n\s*\n", body.replace("\r\n", "\n").strip()) if b.strip()]
    if vtt:
        assert blocks[0].startswith("WEBVTT"), f"no WEBVTT header: {body!r}"
        blocks = blocks[1:]
    for block in blocks:
        lines = block.split("\n")
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        m = re.match(stamp + r" --> " + stamp, lines[timing].strip())
        assert m, f"bad cue timing line: {lines[timing]!r}"
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append((start, end, "\n".join(lines[timing + 1:])))
    return cues


# ---------------------------------------------------------------- reference transcripts

def test_cli_reference_transcripts():
    """The CLI gives a non-empty transcript for every clip (the reference the rest use)."""
    for clip in ALL_CLIPS + OTHER_FORMATS:
        assert cli_text(clip).strip(), f"empty CLI transcript for {clip}"


# ---------------------------------------------------------------- health and metrics

def test_healthz(server):
    status, content_type, body = curl(f"{server.url}/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_metrics_counters_increase(server):
    clip = PARITY_CLIPS[0]
    before = helpers.metrics(server.url)
    status, _, body = curl("-F", f"file=@{clip}", f"{server.url}/inference")
    assert status == 200 and json.loads(body)["text"] == cli_text(clip)
    status, content_type, text = curl(f"{server.url}/metrics")
    assert status == 200 and content_type.startswith("text/plain"), content_type
    after = helpers.parse_metrics(text)

    assert helpers.metric_sum(after, "deepspeech_requests_total") >= helpers.metric_sum(before, "deepspeech_requests_total") + 1
    ok_before = sum(v for k, v in before.items() if k.startswith("deepspeech_requests_total") and 'status="200"' in k)
    ok_after = sum(v for k, v in after.items() if k.startswith("deepspeech_requests_total") and 'status="200"' in k)
    assert ok_after >= ok_before + 1
    audio = after["deepspeech_audio_seconds_total"] - before["deepspeech_audio_seconds_total"]
    assert abs(audio - helpers.wav_duration(clip)) < 0.05, f"audio seconds grew by {audio}"
    assert after["deepspeech_real_time_factor_count"] == before["deepspeech_real_time_factor_count"] + 1
    for name in ("deepspeech_queue_depth", "deepspeech_busy_workers", "deepspeech_processing_seconds_total"):
        assert name in after, f"/metrics lacks {name}"


def test_metrics_count_errors_by_cause(server):
    before = helpers.metric_sum(helpers.metrics(server.url), "deepspeech_errors_total")
    with tempfile.NamedTemporaryFile(suffix=".wav") as bad:
        bad.write(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
        bad.flush()
        status, _, _ = curl("-F", f"file=@{bad.name}", f"{server.url}/inference")
    assert status == 400
    after = helpers.metrics(server.url)
    assert helpers.metric_sum(after, "deepspeech_errors_total") == before + 1
    assert any(k.startswith("deepspeech_errors_total{") and "cause=" in k for k in after)


# ---------------------------------------------------------------- OpenAI: the openai package

@pytest.mark.parametrize("clip", ALL_CLIPS + OTHER_FORMATS, ids=clip_id)
def test_openai_json(server, clip):
    with open(clip, "rb") as f:
        result = client(server).audio.transcriptions.create(model="deepspeech", file=f)
    assert result.text == cli_text(clip)


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_openai_verbose_json(server, clip):
    with open(clip, "rb") as f:
        raw = client(server).audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=f, response_format="verbose_json")
    doc = raw.http_response.json()
    result = raw.parse()
    text = cli_text(clip)
    assert result.text == text and doc["text"] == text
    assert doc["task"] == "transcribe"
    assert isinstance(doc["language"], str) and doc["language"]
    assert abs(doc["duration"] - helpers.wav_duration(clip)) < 0.05, doc["duration"]

    segment_keys = {"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
                    "compression_ratio", "no_speech_prob"}
    assert doc["segments"], "no segments"
    for segment in doc["segments"]:
        assert segment_keys <= segment.keys(), f"segment lacks {segment_keys - segment.keys()}"
        assert 0 <= segment["start"] <= segment["end"] <= doc["duration"] + 0.05
    assert " ".join(s["text"].strip() for s in doc["segments"]).split() == text.split()

    words = result.words
    assert words, "no words"
    for w in words:
        assert 0 <= w.start <= w.end <= doc["duration"] + 0.05, w
    # The words, joined, are the text (runs of spaces count as one).
    assert " ".join(w.word for w in words if w.word).split() == text.split()
    # ... and they are the CLI's words, with the CLI's timings.
    expected = [(w, s, e) for w, s, e in helpers.cli_words(clip) if w]
    got = [(w.word, w.start, w.end) for w in words if w.word]
    assert [w for w, _, _ in got] == [w for w, _, _ in expected]
    for (word, start, end), (_, cli_start, cli_end) in zip(got, expected):
        assert abs(start - cli_start) < 0.021 and abs(end - cli_end) < 0.021, (word, start, end, cli_start, cli_end)


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_openai_text(server, clip):
    with open(clip, "rb") as f:
        result = client(server).audio.transcriptions.create(model="deepspeech", file=f, response_format="text")
    assert isinstance(result, str)
    assert plain(result) == cli_text(clip)


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_openai_subtitles(server, clip, fmt):
    with open(clip, "rb") as f:
        result = client(server).audio.transcriptions.create(model="deepspeech", file=f, response_format=fmt)
    assert isinstance(result, str)
    cues = subtitle_cues(result, vtt=(fmt == "vtt"))
    assert cues, f"no cues in {result!r}"
    last_end = 0.0
    for start, end, _ in cues:
        assert last_end <= start <= end <= helpers.wav_duration(clip) + 0.05, cues
        last_end = end
    assert " ".join(cue_text.replace("\n", " ") for _, _, cue_text in cues).split() == cli_text(clip).split()
    # Exactly the CLI's subtitles (same cues, timings and text, spaces included).
    assert result.strip() == helpers.cli_subtitles(clip, fmt).strip()


def test_openai_accepts_language_prompt_temperature(server):
    clip = PARITY_CLIPS[1]
    with open(clip, "rb") as f:
        result = client(server).audio.transcriptions.create(
            model="gpt-4o-transcribe", file=f, language="hy", prompt="Բարև ձեզ", temperature=0.0)
    assert result.text == cli_text(clip)


def test_openai_error_shape_missing_file(server):
    status, content_type, body = curl("-F", "model=deepspeech", f"{server.url}/v1/audio/transcriptions")
    assert status == 400, body
    assert content_type.startswith("application/json")
    error = json.loads(body)["error"]
    assert {"message", "type", "param", "code"} <= error.keys()
    assert "file" in error["message"].lower() or error["param"] == "file", error


# ---------------------------------------------------------------- whisper.cpp: /inference (curl)

@pytest.mark.parametrize("clip", ALL_CLIPS + OTHER_FORMATS, ids=clip_id)
def test_inference_json(server, clip):
    status, content_type, body = curl("-F", f"file=@{clip}", f"{server.url}/inference")
    assert status == 200, body
    assert content_type.startswith("application/json")
    assert json.loads(body)["text"] == cli_text(clip)


@pytest.mark.parametrize("fmt", ["json", "text", "verbose_json", "srt", "vtt"])
def test_inference_formats(server, fmt):
    clip = PARITY_CLIPS[2]
    text = cli_text(clip)
    status, content_type, body = curl("-F", f"file=@{clip}", "-F", f"response_format={fmt}",
                                      "-F", "temperature=0.0", f"{server.url}/inference")
    assert status == 200, body
    if fmt in ("json", "verbose_json"):
        doc = json.loads(body)
        assert doc["text"] == text
        if fmt == "verbose_json":
            assert doc["segments"] and "words" in doc
    elif fmt == "text":
        assert plain(body) == text
    else:
        assert subtitle_cues(body, vtt=(fmt == "vtt"))
        assert body.strip() == helpers.cli_subtitles(clip, fmt).strip()


# ---------------------------------------------------------------- Rhasspy: /api/speech-to-text (curl)

@pytest.mark.parametrize("clip", ALL_CLIPS, ids=clip_id)
def test_rhasspy_wav(server, clip):
    status, content_type, body = curl("--data-binary", f"@{clip}", "-H", "Content-Type: audio/wav",
                                      f"{server.url}/api/speech-to-text")
    assert status == 200, body
    assert content_type.startswith("text/plain")
    assert plain(body) == cli_text(clip)


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_rhasspy_noheader_pcm(server, clip, tmp_path):
    rate, pcm = helpers.pcm16(clip)
    assert rate == 16000
    raw = tmp_path / "audio.raw"
    raw.write_bytes(pcm)
    status, _, body = curl("--data-binary", f"@{raw}", "-H", "Content-Type: application/octet-stream",
                           f"{server.url}/api/speech-to-text?noheader=true")
    assert status == 200, body
    assert plain(body) == cli_text(clip)


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_rhasspy_json(server, clip):
    status, content_type, body = curl("--data-binary", f"@{clip}", "-H", "Content-Type: audio/wav",
                                      "-H", "Accept: application/json", f"{server.url}/api/speech-to-text")
    assert status == 200, body
    assert content_type.startswith("application/json")
    doc = json.loads(body)
    assert doc["text"] == cli_text(clip)
    assert {"likelihood", "transcribe_seconds", "wav_seconds"} <= doc.keys()
    assert abs(doc["wav_seconds"] - helpers.wav_duration(clip)) < 0.05
    assert 0 <= doc["transcribe_seconds"] < REQUEST_TIMEOUT


# ---------------------------------------------------------------- deepspeech-server: /stt (curl)

@pytest.mark.parametrize("clip", ALL_CLIPS + OTHER_FORMATS, ids=clip_id)
def test_stt(server, clip):
    status, content_type, body = curl("--data-binary", f"@{clip}", f"{server.url}/stt")
    assert status == 200, body
    assert content_type.startswith("text/plain")
    assert plain(body) == cli_text(clip)


# ---------------------------------------------------------------- deepspeech.pytorch: /transcribe (curl)

@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_transcribe(server, clip):
    status, _, body = curl("-F", f"file=@{clip}", f"{server.url}/transcribe")
    assert status == 200, body
    assert json.loads(body) == {"status": "OK", "transcription": cli_text(clip)}


def test_transcribe_error_shape(server):
    status, _, body = curl("-F", "nofile=1", f"{server.url}/transcribe")
    assert 400 <= status < 500, body
    doc = json.loads(body)
    assert doc["status"] == "error" and doc["message"]


# ---------------------------------------------------------------- SINGA-Auto: /predict (requests)

def b64(clip):
    return base64.b64encode(helpers.wav_bytes(clip)).decode("ascii")


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_predict_query(server, clip):
    r = requests.post(f"{server.url}/predict", json={"query": b64(clip)}, timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == {"prediction": cli_text(clip)}


def test_predict_queries(server):
    r = requests.post(f"{server.url}/predict", json={"queries": [b64(c) for c in PARITY_CLIPS]},
                      timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [cli_text(c) for c in PARITY_CLIPS]}


# ---------------------------------------------------------------- WebSocket stream (websockets)

def stream_clip(server, clip, chunk_seconds=0.32, send_config=True):
    """Stream a 16-bit mono WAV in `chunk_seconds` binary frames; returns (partials, final)."""
    rate, pcm = helpers.pcm16(clip)
    chunk_bytes = int(rate * chunk_seconds) * 2
    ws_url = server.url.replace("http://", "ws://") + "/v1/stream"
    partials = []
    with ws_connect(ws_url, open_timeout=10, close_timeout=10) as ws:
        if send_config:
            ws.send(json.dumps({"config": {"sample_rate": rate}}))
        for i in range(0, len(pcm), chunk_bytes):
            ws.send(pcm[i:i + chunk_bytes])
            message = json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
            assert "partial" in message, message
            partials.append(message["partial"])
        ws.send(json.dumps({"eof": 1}))
        final = json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
        # After the final result the server closes the stream.
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            ws.recv(timeout=10)
    return partials, final


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_websocket_stream(server, clip):
    partials, final = stream_clip(server, clip)
    assert final["text"] == helpers.cli_stream_final(clip)
    assert final["text"] == cli_text(clip)
    # One partial per binary frame, the CLI's partial after every chunk.
    assert partials == helpers.cli_stream_partials(clip)
    assert isinstance(final["confidence"], (int, float))
    words = final["result"]
    for w in words:
        assert {"word", "start", "end", "conf"} <= w.keys(), w
        assert 0 <= w["start"] <= w["end"]
    assert " ".join(w["word"] for w in words if w["word"]).split() == final["text"].split()


def test_websocket_stream_without_config(server):
    clip = PARITY_CLIPS[3]
    partials, final = stream_clip(server, clip, send_config=False)
    assert final["text"] == helpers.cli_stream_final(clip)


@pytest.mark.skipif(not any("8k" in c for c in ODD_CLIPS), reason="no 8 kHz clip")
def test_websocket_stream_8khz(server):
    clip = next(c for c in ODD_CLIPS if "8k" in c)
    _, final = stream_clip(server, clip)
    assert final["text"] == helpers.cli_stream_final(clip)


# ---------------------------------------------------------------- Wyoming (wyoming package)

async def wyoming_describe(port):
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(Describe().event())
        while True:
            event = await asyncio.wait_for(c.read_event(), REQUEST_TIMEOUT)
            assert event is not None, "connection closed before info"
            if Info.is_type(event.type):
                return Info.from_event(event)


async def wyoming_transcribe(port, clip, samples_per_chunk=1024):
    rate, pcm = helpers.pcm16(clip)
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(Transcribe(language="hy").event())
        await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        step = samples_per_chunk * 2
        for i in range(0, len(pcm), step):
            await c.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm[i:i + step]).event())
        await c.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(c.read_event(), REQUEST_TIMEOUT)
            assert event is not None, "connection closed before transcript"
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text


def test_wyoming_describe(server):
    info = asyncio.run(wyoming_describe(server.wyoming_port))
    assert info.asr, f"no asr program in {info}"
    program = info.asr[0]
    assert program.name and program.installed
    assert program.models, "asr program lists no models"
    assert any(model.languages for model in program.models)


@pytest.mark.parametrize("clip", PARITY_CLIPS, ids=clip_id)
def test_wyoming_transcribe(server, clip):
    assert asyncio.run(wyoming_transcribe(server.wyoming_port, clip)) == cli_text(clip)


@pytest.mark.skipif(not any("8k" in c for c in ODD_CLIPS), reason="no 8 kHz clip")
def test_wyoming_transcribe_8khz(server):
    clip = next(c for c in ODD_CLIPS if "8k" in c)
    assert asyncio.run(wyoming_transcribe(server.wyoming_port, clip)) == cli_text(clip)


# ---------------------------------------------------------------- API key

def test_api_key_wrong_is_401_openai_error(keyed_server):
    with open(PARITY_CLIPS[0], "rb") as f, pytest.raises(openai.AuthenticationError) as caught:
        client(keyed_server, api_key="wrong").audio.transcriptions.create(model="deepspeech", file=f)
    assert caught.value.status_code == 401
    error = caught.value.response.json()["error"]
    assert {"message", "type", "param", "code"} <= error.keys()
    assert error["message"]


def test_api_key_right_works(keyed_server):
    clip = PARITY_CLIPS[0]
    with open(clip, "rb") as f:
        result = client(keyed_server, api_key=keyed_server.api_key).audio.transcriptions.create(
            model="deepspeech", file=f)
    assert result.text == cli_text(clip)


def test_api_key_missing_is_401(keyed_server):
    status, content_type, body = curl("-F", f"file=@{PARITY_CLIPS[0]}", "-F", "model=deepspeech",
                                      f"{keyed_server.url}/v1/audio/transcriptions")
    assert status == 401, body
    assert json.loads(body)["error"]["message"]


def test_api_key_guards_body_routes(keyed_server):
    clip = PARITY_CLIPS[0]
    status, _, _ = curl("--data-binary", f"@{clip}", f"{keyed_server.url}/stt")
    assert status == 401
    status, _, body = curl("--data-binary", f"@{clip}", "-H", f"Authorization: Bearer {keyed_server.api_key}",
                           f"{keyed_server.url}/stt")
    assert status == 200 and plain(body) == cli_text(clip)


def test_api_key_guards_websocket(keyed_server):
    ws_url = keyed_server.url.replace("http://", "ws://") + "/v1/stream"
    # Hummingbird answers a refused upgrade with a bare 400, so the server upgrades and then
    # refuses: the OpenAI-shaped error as a message, then close code 1008 (policy violation).
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        with ws_connect(ws_url, open_timeout=10, additional_headers=headers) as ws:
            error = json.loads(ws.recv(timeout=REQUEST_TIMEOUT))
            assert error["error"]["code"] == "invalid_api_key", headers
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                ws.recv(timeout=REQUEST_TIMEOUT)
            assert closed.value.rcvd.code == 1008, headers
    with ws_connect(ws_url, open_timeout=10,
                    additional_headers={"Authorization": f"Bearer {keyed_server.api_key}"}) as ws:
        ws.send(helpers.pcm16(PARITY_CLIPS[0])[1][:10240])
        assert "partial" in json.loads(ws.recv(timeout=REQUEST_TIMEOUT))


def test_api_key_not_needed_for_healthz(keyed_server):
    status, _, _ = curl(f"{keyed_server.url}/healthz")
    assert status == 200
