"""Real ``litestar`` processes: the environment they get, one-shot commands (also awaited: :class:`Cli`), and a
server on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
LITESTAR = [sys.executable, "-m", "litestar"]


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKFLOW_")}
    env.update({"PACKFLOW_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def litestar(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*LITESTAR, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@dataclass(frozen=True)
class Ran:
    """A finished CLI command."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        """The JSON result on the last line of the output."""
        return last_json_line(self.stdout)


@dataclass
class Cli:
    """``litestar ...`` in a subprocess with ``env``, awaited (the test's event loop goes on meanwhile)."""

    env: dict[str, str]

    async def __call__(self, *args: str) -> Ran:
        process = await asyncio.create_subprocess_exec(
            *LITESTAR, *args, cwd=REPO, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode is not None
        return Ran(process.returncode, out.decode(), err.decode())

    async def ok(self, *args: str) -> dict[str, Any]:
        """Run the command; it must exit 0; its JSON result."""
        ran = await self(*args)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        return ran.result


def cli_for(database_url: str, fixture_packs: Path, packs: Sequence[str]) -> Cli:
    """The CLI on ``database_url`` (already migrated) with ``packs`` enabled and the fixture packs importable."""
    return Cli(
        environment(
            database_url,
            PACKFLOW_PACKS=",".join(packs),
            PACKFLOW_AUTO_MIGRATE="false",
            PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
        )
    )


def litestar_in(folder: Path, fixture_packs: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``litestar ARGS`` run in ``folder`` (where a ``packflow.toml`` may be), the fixture packs installed,
    with only the ``PACKFLOW_*`` settings given (a SQLite file ``folder/never.db`` by default)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PACKFLOW_", "LITESTAR"))}
    env.update(
        {
            "PYTHONPATH": f"{REPO}{os.pathsep}{fixture_packs}",
            "LITESTAR_APP": "app:create_app",
            "PACKFLOW_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'never.db'}",
        },
        **settings,
    )
    return subprocess.run([*LITESTAR, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def sigkill_when(
    marker: Path, env: dict[str, str], *args: str, within: float = 60, reaching: str = "the point"
) -> None:
    """Start ``litestar ARGS`` with ``env`` and SIGKILL it as soon as the file ``marker`` exists.

    The process writes ``marker`` where the test wants it to die (a fixture pack's hook does, reading the
    file's path from its environment); ``reaching`` names that point in the assertion messages.
    """
    process = subprocess.Popen(
        [*LITESTAR, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + within
        while not marker.exists():
            assert process.poll() is None, f"the process ended before reaching {reaching}"
            assert time.monotonic() < deadline, f"the process never reached {reaching} within {within:g}s"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def plain(output: str) -> str:
    """A command's error output as one line: without the box the command line draws and its line breaks."""
    return " ".join(output.translate(str.maketrans("", "", "╭╮╰╯│─")).split())


def last_json_line(output: str) -> dict[str, Any]:
    line = output.strip().splitlines()[-1]
    payload: dict[str, Any] = json.loads(line)
    return payload


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def litestar_server(
    env: dict[str, str], log: Path, *, command: Sequence[str] = LITESTAR, cwd: Path = REPO
) -> Iterator[str]:
    """``litestar run`` on a free port with ``env``, its output in ``log``; its base URL once it answers.

    ``command`` is the ``litestar`` command line to use (default: this interpreter's), run in ``cwd``.
    The output goes to a file: a pipe nobody reads would fill up and stall the server.
    """
    port = free_port()
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [*command, "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited: {log.read_text(encoding='utf-8')}")
            try:
                if httpx.get(f"{base}/schema/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not start within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
