"""The manifests' containers run for real, here, outside any container, with the environment Kubernetes would give them.

Each container's environment comes from the rendered overlay (its ConfigMaps and values), the
Secrets from this machine's services; only what a pod has and a test machine has not is changed:
the listening address and port (loopback, a free one) and the data folder (the pod's volume).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .manifests import IMAGE, Container, containers, environment, http_get

pytestmark = pytest.mark.slow

from ..conftest import require_service  # noqa: E402
from ..e2e.conftest import EVENTHIVE, free_port, wait_until  # noqa: E402

START_TIMEOUT = 60.0


def _substituted(args: list[str], replacements: dict[str, str]) -> list[str]:
    """The container's args with each option's value replaced where ``replacements`` names the option."""
    result, pending = [], None
    for arg in args:
        if pending is not None:
            result.append(replacements[pending])
            pending = None
            continue
        result.append(arg)
        if arg in replacements:
            pending = arg
    return result


def _answers(port: int, path: str) -> bool:
    try:
        return http_get(port, path)[0] == 200
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def run_process(tmp_path: Path) -> Iterator[Callable[[list[str], dict[str, str], str], subprocess.Popen[str]]]:
    """``start(argv, env, name)``: run a program in the background, its output in ``<name>.log``; stopped at the end."""
    started: list[tuple[subprocess.Popen[str], Path]] = []

    def start(argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[str]:
        log = tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
            )
        started.append((process, log))
        return process

    yield start
    for process, _ in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, log in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"--- {log.name}\n{log.read_text()[-4000:]}")


@pytest.fixture
def run_container(
    run_process: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
) -> Callable[[list[str], dict[str, str], str], subprocess.Popen[str]]:
    """``start(argv, env, name)``: run ``eventhive *argv`` (the image's entry point) like ``run_process``."""

    def start(argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[str]:
        return run_process([EVENTHIVE, *argv], env, name)

    return start


@pytest.fixture
def single_secrets(postgres_database_factory: Callable[[], str], redis_server_url: str) -> dict[tuple[str, str], str]:
    """What the operator's Secrets hold for the single overlay, pointing at this machine's services."""
    from sqlalchemy.engine import make_url

    database = make_url(postgres_database_factory()).set(drivername="postgresql+psycopg")
    redis = redis_server_url.rsplit("/", 1)[0]
    return {
        ("eventhive", "database-url"): database.render_as_string(hide_password=False),
        ("eventhive", "jwt-secret"): secrets.token_urlsafe(48),
        # A database of Redis's own for this test's broker, so no other test's tasks reach its worker.
        ("eventhive", "celery-broker-url"): f"{redis}/13",
        ("eventhive", "redis-url"): f"{redis}/12",
        ("eventhive", "metrics-token"): secrets.token_urlsafe(24),
        ("eventhive-stripe", "secret-key"): "sk_test_" + "x" * 24,
        ("eventhive-stripe", "webhook-secret"): "whsec_" + "x" * 24,
    }


def _single(name: str) -> list[Container]:
    """The init and main containers of one single-overlay Deployment, in the order a pod runs them."""
    found = [c for c in containers("single", image=IMAGE) if c.workload["metadata"]["name"] == name]
    assert found
    assert found[0].init, f"{name} has no init container"
    return found


def _env(container: Container, secret: dict[tuple[str, str], str], data_dir: Path) -> dict[str, str]:
    env = environment(container, secret)
    assert env["EVENTHIVE_DATA_DIR"] == "/var/lib/eventhive"  # the pod's volume...
    env["EVENTHIVE_DATA_DIR"] = str(data_dir)  # ...is a folder here
    return env


def _run_init(container: Container, env: dict[str, str]) -> None:
    """Run an init container's command to its end, as the pod would before its main container; it must succeed."""
    assert container.init
    done = subprocess.run(
        [EVENTHIVE, *container.spec["args"]], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{container.label}: {done.stdout}{done.stderr}"


def test_the_single_web_pod_migrates_then_answers_its_probes_and_the_metrics_scrape(
    single_secrets: dict[tuple[str, str], str],
    run_container: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    migrate, web = _single("eventhive-web")
    port = free_port()

    _run_init(migrate, _env(migrate, single_secrets, tmp_path / "init"))
    argv = _substituted(web.spec["args"], {"--host": "127.0.0.1", "--port": str(port)})
    process = run_container(argv, _env(web, single_secrets, tmp_path / "web"), "web")
    assert wait_until(lambda: _answers(port, "/api/health") or process.poll() is not None, START_TIMEOUT)
    assert process.poll() is None, "the web container exited"

    for probe in ("readinessProbe", "livenessProbe"):
        status, body = http_get(port, web.spec[probe]["httpGet"]["path"])
        assert status == 200, (probe, body)
    readiness = json.loads(http_get(port, web.spec["readinessProbe"]["httpGet"]["path"])[1])
    assert set(readiness["checks"]) >= {"storage", "bus", "denylist"}
    annotations = web.pod["metadata"]["annotations"]
    token = single_secrets[("eventhive", "metrics-token")]
    status, metrics = http_get(port, annotations["prometheus.io/path"], {"Authorization": f"Bearer {token}"})
    assert status == 200
    assert b"eventhive_http_requests_total" in metrics


def test_the_single_worker_and_beat_pods_start_and_serve_their_metrics_port(
    single_secrets: dict[tuple[str, str], str],
    run_container: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    migrate, _ = _single("eventhive-worker")
    _run_init(migrate, _env(migrate, single_secrets, tmp_path / "init"))

    running = []
    for name in ("eventhive-worker", "eventhive-beat"):
        _, container = _single(name)
        port = free_port()
        data_dir = tmp_path / name
        data_dir.mkdir()
        replacements = {"--metrics-port": str(port), "--metrics-host": "127.0.0.1"}
        if "--schedule-file" in container.spec["args"]:
            replacements["--schedule-file"] = str(data_dir / "celerybeat-schedule")
        argv = _substituted(container.spec["args"], replacements)
        env = _env(container, single_secrets, data_dir)
        running.append((run_container(argv, env, name), port, container))

    for process, port, container in running:
        probe_port = container.spec["livenessProbe"]["tcpSocket"]["port"]
        assert probe_port == "metrics"
        assert wait_until(
            lambda port=port, process=process: _answers(port, "/metrics") or process.poll() is not None, START_TIMEOUT
        )
        assert process.poll() is None, f"{container.label} exited"
        assert _listening(port)
        status, body = http_get(port, "/metrics")
        # The pool's own metrics and the outbox gauge, read from the database at the scrape.
        assert status == 200
        assert b"eventhive_outbox_" in body, body[:500]


# --- the split --------------------------------------------------------------------------------------

ROLES = ("auth", "tickets", "orders", "payments", "expiration")


def _expanded(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' ``$(NAME)`` expansion of a container's args from its environment."""
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], arg) for arg in args]


@pytest.fixture
def split_secrets(postgres_database_factory: Callable[[], str], redis_server_url: str) -> dict[tuple[str, str], str]:
    """What the operator's Secrets hold for the split overlay (the NATS URL is added once its server runs)."""
    from sqlalchemy.engine import make_url

    from eventhive_core.adapters.jwt_tokens import generate_ed25519_keypair

    private_key, public_key = generate_ed25519_keypair()
    redis = redis_server_url.rsplit("/", 1)[0]
    values = {
        ("eventhive-jwt", "private-key"): private_key,
        ("eventhive-jwt", "public-key"): public_key,
        ("eventhive-nats", "token"): secrets.token_urlsafe(16),
        ("eventhive", "redis-url"): f"{redis}/12",
        ("eventhive", "metrics-token"): secrets.token_urlsafe(24),
        ("eventhive-stripe", "secret-key"): "sk_test_" + "x" * 24,
        ("eventhive-stripe", "webhook-secret"): "whsec_" + "x" * 24,
        ("eventhive-pages", "secret"): secrets.token_urlsafe(48),
    }
    for role in ROLES:
        url = make_url(postgres_database_factory()).set(drivername="postgresql+psycopg")
        values[(f"eventhive-{role}", "database-url")] = url.render_as_string(hide_password=False)
    return values


def _nats_from_the_manifest(
    split_secrets: dict[tuple[str, str], str],
    run_process: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
    folder: Path,
) -> int:
    """Start nats-server with the StatefulSet's own arguments; return its client port."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        require_service("nats-server is not installed")
    (nats,) = containers("split", image="nats")
    env = environment(nats, split_secrets)
    client_port, monitor_port = free_port(), free_port()
    args = _substituted(
        _expanded(nats.spec["args"], env), {"--store_dir": str(folder), "--http_port": str(monitor_port)}
    )
    process = run_process([binary, *args, "--addr", "127.0.0.1", "--port", str(client_port)], env, "nats")
    probe = nats.spec["readinessProbe"]["httpGet"]["path"]
    assert wait_until(lambda: _answers(monitor_port, probe) or process.poll() is not None, START_TIMEOUT)
    assert process.poll() is None, "nats-server exited"
    return client_port


def test_the_split_pods_migrate_and_answer_their_probes_on_nats_started_as_its_statefulset_says(
    split_secrets: dict[tuple[str, str], str],
    run_container: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
    run_process: Callable[[list[str], dict[str, str], str], subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    token = split_secrets[("eventhive-nats", "token")]
    nats_port = _nats_from_the_manifest(split_secrets, run_process, tmp_path / "nats")
    split_secrets[("eventhive-nats", "url")] = f"nats://{token}@127.0.0.1:{nats_port}"

    started = []
    for container in containers("split", image=IMAGE):
        name = container.workload["metadata"]["name"]
        env = _env(container, split_secrets, tmp_path / name)
        if container.init:
            _run_init(container, env)
            continue
        port = free_port()
        # One worker a pod here: six servers share this machine's two cores (the pods' count is not under test).
        argv = _substituted(container.spec["args"], {"--host": "127.0.0.1", "--port": str(port), "--workers": "1"})
        started.append((run_container(argv, env, name), port, container))

    assert sorted(c.spec["args"][1] for _, _, c in started) == sorted([*ROLES, "client"])
    for process, port, container in started:
        ready = container.spec["readinessProbe"]["httpGet"]["path"]
        became_ready = wait_until(
            lambda port=port, ready=ready, process=process: _answers(port, ready) or process.poll() is not None,
            START_TIMEOUT,
        )
        assert became_ready, (
            f"{container.label} never became ready: {http_get(port, ready) if process.poll() is None else 'exited'}"
        )
        assert process.poll() is None, f"{container.label} exited"
        assert http_get(port, container.spec["livenessProbe"]["httpGet"]["path"])[0] == 200
