"""pytest fixtures: the servers the tests talk to.

run.sh starts them and passes them in the environment:
  DS_URL, DS_WYOMING_PORT, DS_PID     the main server (default model, no API key)
  DS_KEY_URL, DS_API_KEY              a second server started with --api-key
Without those variables (plain `pytest Tests/ServerIntegration`), the fixtures start the
servers themselves from $DEEPSPEECH (default .build/release/deepspeech).
"""

import os
import sys
from types import SimpleNamespace

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import helpers  # noqa: E402


@pytest.fixture(scope="session")
def server():
    if os.environ.get("DS_URL"):
        url = os.environ["DS_URL"].rstrip("/")
        yield SimpleNamespace(url=url, port=int(url.rsplit(":", 1)[1]),
                              wyoming_port=int(os.environ["DS_WYOMING_PORT"]),
                              pid=int(os.environ["DS_PID"]))
        return
    with helpers.Server() as s:
        yield s


@pytest.fixture(scope="session")
def keyed_server():
    if os.environ.get("DS_KEY_URL"):
        yield SimpleNamespace(url=os.environ["DS_KEY_URL"].rstrip("/"), api_key=os.environ["DS_API_KEY"])
        return
    with helpers.Server("--api-key", "secret", wyoming=False) as s:
        s.api_key = "secret"
        yield s
