"""The real server as `uvicorn --workers 4` on PostgreSQL + a Chroma server: key, chat and
approval flows with requests spread over workers (fresh connections; each response names
its worker), races over HTTP, shared rate limits, and a worker killed mid-traffic.

One server per module (starting four workers costs seconds); each test uses its own
owner, keys and client address (X-Forwarded-For, trusted from loopback because the test
names loopback as its trusted proxy, as DOCSAGENT_TRUSTED_PROXIES would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent.db import make_engine
from agent.keys.factory import make_key_manager
from server.config import Settings
from tests.conftest import CORPUS, REPO, remember_secret
from tests.scaled.conftest import free_port, schema_url, service_url, stop, wait_http
from tests.scaled.procs import PEPPER

pytestmark = [pytest.mark.scaled, pytest.mark.e2e, pytest.mark.slow]

WORKERS = 4
PER_KEY_LIMIT = 40
FAILED_AUTH_LIMIT = 8
KEYS = "/v1/user/api_keys"


@dataclass
class Cluster:
    url: str
    master: subprocess.Popen[bytes]
    settings: Settings

    def workers(self) -> set[int]:
        path = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children")
        return {int(pid) for pid in path.read_text().split()}

    def get(self, path: str, **kw: object) -> httpx.Response:
        """One request on a fresh connection, so the kernel may hand it to any worker."""
        with httpx.Client(base_url=self.url, timeout=30) as client:
            return client.request(str(kw.pop("method", "GET")), path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> httpx.Response:
        return self.get(path, method="POST", **kw)

    def patch(self, path: str, **kw: object) -> httpx.Response:
        return self.get(path, method="PATCH", **kw)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import sqlalchemy as sa

    base = service_url("DOCSAGENT_TEST_DATABASE_URL")
    chroma = service_url("DOCSAGENT_TEST_CHROMA_URL")
    root = tmp_path_factory.mktemp("cluster")
    schema, collection = f"t_{uuid.uuid4().hex[:12]}", f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    import shutil

    shutil.copytree(CORPUS, root / "docs_cache")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSAGENT_")}
    env.update(
        DOCSAGENT_DATA_DIR=str(root / "data"),
        DOCSAGENT_DOCS_CACHE=str(root / "docs_cache"),
        DOCSAGENT_DATABASE_URL=schema_url(base, schema),
        DOCSAGENT_CHROMA_URL=chroma,
        DOCSAGENT_CHROMA_COLLECTION=collection,
        DOCSAGENT_KEY_PEPPER=PEPPER,
        DOCSAGENT_FALLBACK_ENABLED="false",
        DOCSAGENT_RATE_LIMIT_PER_KEY=str(PER_KEY_LIMIT),
        DOCSAGENT_RATE_LIMIT_FAILED_AUTH=str(FAILED_AUTH_LIMIT),
        DOCSAGENT_LOG_LEVEL="WARNING",
        ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=str(REPO),
    )
    settings = Settings(
        data_dir=root / "data",
        docs_cache=root / "docs_cache",
        database_url=env["DOCSAGENT_DATABASE_URL"],
        chroma_url=chroma,
        chroma_collection=collection,
        key_pepper=PEPPER,
    )
    port = free_port()
    log = (root / "uvicorn.log").open("wb")
    master = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.scaled.pid_app:create_app", "--factory",
         "--workers", str(WORKERS), "--host", "127.0.0.1", "--port", str(port),
         "--forwarded-allow-ips", "127.0.0.1"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", master, timeout=120)
        cluster = Cluster(url, master, settings)
        deadline = time.monotonic() + 120  # every worker has finished its start-up
        while len(cluster.workers()) < WORKERS or not _all_ready(cluster):
            assert time.monotonic() < deadline, "workers did not all become ready"
            time.sleep(0.3)
        yield cluster
    finally:
        stop(master, timeout=30)
        log.close()
        with admin.connect() as conn:
            conn.execute(sa.text("SET lock_timeout = '20s'"))
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        import chromadb

        from tests.scaled.conftest import chroma_client

        client = chroma_client(chroma)
        try:
            client.delete_collection(collection)
        except chromadb.errors.NotFoundError:
            pass


def _all_ready(cluster: Cluster) -> bool:
    seen = {}
    for _ in range(40):
        response = cluster.get("/readyz")
        seen[response.headers.get("x-worker-pid")] = response.status_code
    return len(seen) >= WORKERS and all(code == 200 for code in seen.values())


@dataclass
class User:
    owner: str
    key_id: str
    secret: str
    ip: str

    def headers(self, secret: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret or self.secret}", "X-Forwarded-For": self.ip}


def _ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


@pytest.fixture
def user(cluster: Cluster) -> Iterator[User]:
    """A fresh owner with a key 'main', made through the key store (like `docsagent keys`)."""
    engine = make_engine(cluster.settings)
    keys = make_key_manager(cluster.settings, engine=engine)
    owner = f"user-{uuid.uuid4().hex[:8]}"
    record, secret = keys.create(owner, "main", actor=owner)
    yield User(owner, record.id, remember_secret(secret), _ip())
    engine.dispose()


def _alive(pid: int) -> bool:
    """False once the process is gone or a zombie its master has not reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids(responses: list[httpx.Response]) -> set[str]:
    return {r.headers["x-worker-pid"] for r in responses}


def test_rotated_key_fails_on_every_worker_at_once(cluster: Cluster, user: User) -> None:
    created = cluster.post(KEYS, json={"name": "ci"}, headers=user.headers())
    assert created.status_code == 201
    old = remember_secret(created.json()["api_key"])
    used = [cluster.get("/v1/me", headers=user.headers(old)) for _ in range(12)]
    assert [r.status_code for r in used] == [200] * 12
    rotated = cluster.post(f"{KEYS}/{created.json()['id']}/rotate", headers=user.headers())
    assert rotated.status_code == 200
    new = remember_secret(rotated.json()["api_key"])
    # straight after the rotation: the old key is refused by every worker, the new accepted
    tries = FAILED_AUTH_LIMIT - 1  # stay under the failed-auth limit of this address
    after_old = [cluster.get("/v1/me", headers=user.headers(old)) for _ in range(tries)]
    after_new = [cluster.get("/v1/me", headers=user.headers(new)) for _ in range(12)]
    assert [r.status_code for r in after_old] == [401] * tries
    assert [r.status_code for r in after_new] == [200] * 12
    assert len(_pids(used + after_old + after_new)) >= 2, "requests never left one worker"
    assert {r.json()["owner"] for r in after_new} == {user.owner}


def test_pending_approval_created_on_one_worker_approved_on_another(
    cluster: Cluster, user: User
) -> None:
    staged = cluster.post("/v1/chat", json={"message": "rotate key main"}, headers=user.headers())
    assert staged.status_code == 200
    body = staged.json()
    pending, conversation = body["pending_action"], body["conversation_id"]
    assert pending and pending["tool"] == "rotate_api_key" and body["secret"] is None
    assert cluster.get("/v1/me", headers=user.headers()).status_code == 200  # not yet rotated
    for _ in range(30):  # approve through a different worker than the one that staged it
        probe = cluster.get("/healthz")
        if probe.headers["x-worker-pid"] != staged.headers["x-worker-pid"]:
            break
    decided = cluster.post(
        "/v1/chat",
        json={"conversation_id": conversation, "approve": pending["id"]},
        headers=user.headers(),
    )
    assert decided.status_code == 200
    secret = decided.json()["secret"]
    assert secret and secret["key_id"] == user.key_id
    new = remember_secret(secret["api_key"])
    assert cluster.get("/v1/me", headers=user.headers()).status_code == 401
    assert cluster.get("/v1/me", headers=user.headers(new)).status_code == 200
    again = cluster.post(
        "/v1/chat",
        json={"conversation_id": conversation, "approve": pending["id"]},
        headers=user.headers(new),
    )
    assert again.status_code != 200 or again.json()["secret"] is None  # single use
    history = cluster.get(f"/v1/conversations/{conversation}", headers=user.headers(new))
    assert history.status_code == 200 and new not in history.text


def _race_self_rotations(cluster: Cluster, user: User) -> list[httpx.Response]:
    clients = [httpx.Client(base_url=cluster.url, timeout=60) for _ in range(20)]
    try:
        for client in clients:  # connect first, so the rotations start together
            assert client.get("/healthz").status_code == 200
        with ThreadPoolExecutor(max_workers=20) as pool:
            return list(
                pool.map(lambda c: c.patch("/v1/apikey/rotate", headers=user.headers()), clients)
            )
    finally:
        for client in clients:
            client.close()


def test_twenty_concurrent_rotations_leave_one_live_key(cluster: Cluster, user: User) -> None:
    results = _race_self_rotations(cluster, user)
    codes = sorted(r.status_code for r in results)
    winners = [r for r in results if r.status_code == 200]
    # a loser raced for the same version (409), or arrived after the old key died (401, and
    # 429 once this address has failed FAILED_AUTH_LIMIT times)
    assert len(winners) == 1 and set(codes) <= {200, 401, 409, 429}, codes
    assert all(r.json()["error"]["code"] == "conflict" for r in results if r.status_code == 409)
    secrets = [remember_secret(r.json()["api_key"]) for r in winners]
    checker = User(user.owner, user.key_id, user.secret, _ip())  # this address is limited now
    checks = {s: cluster.get("/v1/me", headers=checker.headers(s)).status_code for s in secrets}
    live = [s for s, code in checks.items() if code == 200]
    assert len(live) == 1, sorted(checks.values())
    assert cluster.get("/v1/me", headers=checker.headers()).status_code == 401
    me = cluster.get("/v1/me", headers=checker.headers(live[0]))
    assert me.json()["key_id"] == user.key_id
    listed = cluster.get(KEYS, headers=checker.headers(live[0])).json()
    assert [k["name"] for k in listed] == ["main"]  # never two live replacements


def test_failed_auth_limit_holds_across_workers(cluster: Cluster, user: User) -> None:
    bad = "dak_" + "A" * 40
    failures = [cluster.get("/v1/me", headers=user.headers(bad)) for _ in range(FAILED_AUTH_LIMIT)]
    assert [r.status_code for r in failures] == [401] * FAILED_AUTH_LIMIT
    assert len(_pids(failures)) >= 2, "failures never left one worker"
    blocked = [cluster.get("/v1/me", headers=user.headers()) for _ in range(6)]  # valid key
    assert [r.status_code for r in blocked] == [429] * 6
    assert len(_pids(blocked)) >= 2 and all(int(r.headers["retry-after"]) >= 1 for r in blocked)
    other = {"Authorization": f"Bearer {user.secret}", "X-Forwarded-For": _ip()}
    assert cluster.get("/v1/me", headers=other).status_code == 200  # per address


def test_per_key_limit_holds_across_workers(cluster: Cluster, user: User) -> None:
    used = [cluster.get("/v1/me", headers=user.headers()) for _ in range(PER_KEY_LIMIT)]
    assert [r.status_code for r in used] == [200] * PER_KEY_LIMIT
    assert len(_pids(used)) >= 2
    over = cluster.get("/v1/me", headers=user.headers())
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"


def test_ask_is_served_by_every_worker_from_the_shared_index(cluster: Cluster) -> None:
    answers = [
        cluster.get(
            "/workspace/settings/user-settings/api-keys.md",
            params={"ask": "my key leaked"},
            headers={"Accept": "application/json", "X-Forwarded-For": _ip()},
        )
        for _ in range(16)
    ]
    assert {r.status_code for r in answers} == {200}
    assert len(_pids(answers)) >= 2
    urls = {r.json()["sources"][0]["url"] for r in answers}
    assert len(urls) == 1 and next(iter(urls)).endswith("#rotate-api-key")


def test_killed_worker_loses_no_keys_and_the_others_keep_serving(
    cluster: Cluster, user: User
) -> None:
    names = [f"k{n:02d}" for n in range(30)]
    victim = int(cluster.get("/healthz").headers["x-worker-pid"])

    def create(name: str) -> tuple[str, httpx.Response | None]:
        if name == "k10":
            os.kill(victim, signal.SIGKILL)
        try:
            return name, cluster.post(KEYS, json={"name": name}, headers=user.headers())
        except httpx.TransportError:  # its connection died with the worker
            return name, None

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(create, names))
    made = {name: r.json() for name, r in results if r is not None and r.status_code == 201}
    assert all(r is None or r.status_code == 201 for _, r in results)
    assert len(made) >= len(names) - 6  # at most the requests in flight on the dead worker
    for body in made.values():
        remember_secret(body["api_key"])
    assert not _alive(victim)
    served = [cluster.get("/v1/me", headers=user.headers()) for _ in range(8)]
    assert {r.status_code for r in served} == {200}
    assert str(victim) not in _pids(served)
    listed = cluster.get(KEYS, headers=user.headers()).json()
    listed_names = [k["name"] for k in listed]
    assert len(listed_names) == len(set(listed_names))  # nothing duplicated
    assert set(made) <= set(listed_names) <= {*names, "main"}  # nothing the client saw is lost
    for body in made.values():
        me = cluster.get("/v1/me", headers=user.headers(body["api_key"]))
        assert me.status_code == 200 and me.json()["key_id"] == body["id"]
