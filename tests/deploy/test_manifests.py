"""The Kubernetes manifests render, validate strictly, and name only real settings, commands, Secrets and paths.

Nothing here runs a cluster: ``kubectl kustomize`` renders each overlay, ``kubernetes-validate``
checks every resource against the API's schemas offline, and the EventHive parts of the manifests
are checked against EventHive itself. tests/deploy/test_manifests_run.py runs the containers'
commands for real, outside any container.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from eventhive_flask.config import DEFAULTS

from .manifests import (
    IMAGE,
    KUBERNETES,
    OVERLAYS,
    ROOT,
    Container,
    all_containers,
    containers,
    named,
    of_kind,
    rendered,
    secret_refs,
)

kubernetes_validate = pytest.importorskip("kubernetes_validate")

#: The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
DEPLOY_DOC = ROOT / "docs" / "deploying" / "kubernetes.md"
EVENTHIVE = str(Path(sys.executable).with_name("eventhive"))


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_of_each_overlay_validates_strictly_against_the_kubernetes_api(
    overlay: str, version: str
) -> None:
    resources = rendered(overlay)
    failures = []
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{resource['kind']}/{resource['metadata']['name']}: {exc.message}")

    assert len(resources) >= 10
    assert not failures, "\n".join(failures)


def test_strict_validation_refuses_a_field_kubernetes_does_not_know() -> None:
    web = named(rendered("single"), "Deployment", "eventhive-web")
    web["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {"httpGet": {"path": "/", "port": 80}}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_validator_cli_agrees_on_the_rendered_files(tmp_path: Path) -> None:
    from .manifests import require_tool

    validator = require_tool("kubernetes-validate")
    files = []
    for overlay in OVERLAYS:
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(yaml.safe_dump_all(rendered(overlay)))
        files.append(str(path))

    completed = subprocess.run(
        [validator, "--strict", "--quiet", "-k", KUBERNETES_VERSIONS[-1], *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def _eventhive_variables(overlay: str) -> dict[str, str]:
    """Every EVENTHIVE_* name set anywhere in the overlay (containers' env, ConfigMaps), with where."""
    found: dict[str, str] = {}
    for container in containers(overlay):
        for entry in container.spec.get("env", []):
            found.setdefault(entry["name"], container.label)
    for config_map in of_kind(rendered(overlay), "ConfigMap"):
        for key in config_map.get("data", {}):
            found.setdefault(key, f"{overlay}/ConfigMap/{config_map['metadata']['name']}")
    return {name: where for name, where in found.items() if name.startswith("EVENTHIVE_")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_eventhive_variable_in_the_manifests_is_a_known_setting(overlay: str) -> None:
    variables = _eventhive_variables(overlay)
    unknown = {name: where for name, where in variables.items() if name not in DEFAULTS}

    assert len(variables) >= 10
    assert not unknown, f"not EventHive settings: {unknown}"


def _argv(container: Container) -> list[str]:
    assert container.spec.get("command") in (None, [IMAGE]), f"{container.label} replaces the image's entry point"
    return [str(arg) for arg in container.spec.get("args", [])]


EVENTHIVE_CONTAINERS = all_containers(image=IMAGE)


@pytest.mark.parametrize("container", EVENTHIVE_CONTAINERS, ids=[c.label for c in EVENTHIVE_CONTAINERS])
def test_every_container_runs_a_real_eventhive_command_with_options_it_accepts(container: Container) -> None:
    from eventhive_core.cli.main import cli

    argv = _argv(container)
    # Parse as click would, to the last subcommand: a misspelt option, a role that is not one, or
    # a port out of range fails here (--help alone stops before the values are checked).
    context = cli.make_context(IMAGE, list(argv))
    command: click.Command = cli
    while isinstance(command, click.Group):
        rest = [*context._protected_args, *context.args]
        name, found, rest = command.resolve_command(context, rest)
        assert found is not None, f"{container.label}: eventhive has no command {name!r}"
        command = found
        context = command.make_context(name, rest, parent=context)
    helped = subprocess.run([EVENTHIVE, *argv, "--help"], capture_output=True, text=True, timeout=60, check=False)

    assert helped.returncode == 0, f"{container.label}: eventhive {' '.join(argv)} --help\n{helped.stderr}"
    assert "Usage: eventhive" in helped.stdout
    assert command.name in helped.stdout.splitlines()[0]


def test_a_container_naming_no_real_role_is_caught() -> None:
    from eventhive_core.cli.main import cli

    context = cli.make_context(IMAGE, ["service", "ROLE", "--port", "8000"])
    name, command, rest = cli.resolve_command(context, [*context._protected_args, *context.args])

    assert command is not None
    with pytest.raises(click.BadParameter):
        command.make_context(name or "", rest, parent=context)


def _probe_paths() -> set[str]:
    return {
        probe["httpGet"]["path"]
        for container in all_containers(image=IMAGE)
        for key in ("readinessProbe", "livenessProbe", "startupProbe")
        if (probe := container.spec.get(key)) and "httpGet" in probe
    }


def test_every_server_is_probed_for_readiness_and_liveness_on_the_health_paths() -> None:
    servers = [
        c for c in all_containers(image=IMAGE) if not c.init and c.spec.get("args", [None])[0] in {"serve", "service"}
    ]

    assert len(servers) == 1 + 6  # the single web tier; five services and the client
    for container in servers:
        assert container.spec["readinessProbe"]["httpGet"]["path"] == "/api/health/ready", container.label
        assert container.spec["livenessProbe"]["httpGet"]["path"] == "/api/health", container.label
    assert _probe_paths() == {"/api/health/ready", "/api/health"}


@pytest.mark.parametrize("container", all_containers(), ids=[c.label for c in all_containers()])
def test_every_container_asks_for_resources_and_runs_unprivileged(container: Container) -> None:
    resources = container.spec["resources"]
    pod_security = container.pod["spec"]["securityContext"]
    security = container.spec["securityContext"]

    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_eventhive_process_believes_exactly_the_ingress_as_its_proxy(overlay: str) -> None:
    from .manifests import environment

    secrets = _AnySecret()
    servers = [c for c in containers(overlay, image=IMAGE) if not c.init]
    for container in servers:
        assert environment(container, secrets, base={}).get("EVENTHIVE_PROXY_HOPS") == "1", container.label
    assert servers


class _AnySecret(dict[tuple[str, str], str]):
    """Every secret reads as a placeholder (for tests that look at the other variables)."""

    def __missing__(self, key: tuple[str, str]) -> str:
        return f"secret:{key[0]}/{key[1]}"


#: The original's ingress: host eventhive.dev; each API path to its service, everything else to the client.
ORIGINAL_PATHS = ("/api/payments", "/api/users", "/api/tickets", "/api/orders", "/")


@pytest.mark.parametrize(
    ("overlay", "backends"),
    [
        ("single", dict.fromkeys(ORIGINAL_PATHS, "eventhive-web")),
        (
            "split",
            {
                "/api/payments": "eventhive-payments",
                "/api/users": "eventhive-auth",
                "/api/tickets": "eventhive-tickets",
                "/api/orders": "eventhive-orders",
                "/": "eventhive-client",
            },
        ),
    ],
)
def test_the_ingress_routes_the_originals_host_and_paths_to_services_that_exist(
    overlay: str, backends: dict[str, str]
) -> None:
    resources = rendered(overlay)
    (ingress,) = of_kind(resources, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    routed = {path["path"]: path["backend"]["service"] for path in rule["http"]["paths"]}

    assert rule["host"] == "eventhive.dev"
    assert {path: backend["name"] for path, backend in routed.items()} == backends
    for backend in routed.values():
        service = named(resources, "Service", backend["name"])
        assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
        assert _pods_selected(resources, service["spec"]["selector"]), f"{backend['name']} selects no pod"


def _pods_selected(resources: list[dict[str, Any]], selector: dict[str, str]) -> list[str]:
    return [
        workload["metadata"]["name"]
        for workload in resources
        if workload["kind"] in {"Deployment", "StatefulSet"}
        and selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    ]


@pytest.mark.parametrize(("overlay", "web"), [("single", ["eventhive-web"]), ("split", ["eventhive-client"])])
def test_the_web_tier_scales_with_an_autoscaler_and_keeps_a_pod_through_disruptions(
    overlay: str, web: list[str]
) -> None:
    resources = rendered(overlay)
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(resources, "HorizontalPodAutoscaler")}
    budgets = {
        name
        for pdb in of_kind(resources, "PodDisruptionBudget")
        for name in _pods_selected(resources, pdb["spec"]["selector"]["matchLabels"])
    }
    deployments = {d["metadata"]["name"] for d in of_kind(resources, "Deployment")}

    assert set(web) <= scaled <= deployments
    assert set(web) <= budgets
    assert scaled <= budgets, "every autoscaled tier also has a disruption budget"
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2, "one replica would make the budget block every drain"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_serving_metrics_is_annotated_for_prometheus_on_a_port_it_listens_on(overlay: str) -> None:
    annotated = 0
    for container in containers(overlay, image=IMAGE):
        if container.init:
            continue
        annotations = container.pod["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", container.label
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) in {p["containerPort"] for p in container.spec["ports"]}
        annotated += 1

    assert annotated >= 3


def test_the_single_web_tier_leaves_timers_to_celery_and_every_process_migrates_first() -> None:
    from .manifests import environment

    secrets = _AnySecret()
    for container in containers("single", image=IMAGE):
        env = environment(container, secrets, base={})
        if container.init:
            assert container.spec["args"] == ["db", "upgrade"]
            continue
        assert env["EVENTHIVE_SCHEDULER"] == env["EVENTHIVE_EVENT_BUS"] == "celery"
        assert env["EVENTHIVE_STORAGE_OPTIONS"] == '{"migrate": "check"}'
        name = container.workload["metadata"]["name"]
        first = next(
            c.spec["name"] for c in containers("single", image=IMAGE) if c.workload["metadata"]["name"] == name
        )
        assert first == "migrate", f"{container.label} starts before its database is migrated"
    web = next(c for c in containers("single", image=IMAGE) if c.spec["name"] == "web")
    assert environment(web, secrets, base={})["EVENTHIVE_RUN_BACKGROUND"] == "false"
    assert (
        sum("--beat" in c.spec["args"] and c.workload["spec"]["replicas"] for c in containers("single", image=IMAGE))
        == 1
    ), "exactly one beat"


def test_each_split_service_has_a_database_of_its_own_and_only_auth_holds_the_signing_key() -> None:
    databases: dict[str, tuple[str, str]] = {}
    for container in containers("split", image=IMAGE):
        args = container.spec["args"]
        if container.init or args[0] != "service" or args[1] == "client":
            continue
        refs = {
            entry["name"]: (entry["valueFrom"]["secretKeyRef"]["name"], entry["valueFrom"]["secretKeyRef"]["key"])
            for entry in container.spec["env"]
            if "valueFrom" in entry
        }
        databases[args[1]] = refs["EVENTHIVE_DATABASE_URL"]
        holds_private = "EVENTHIVE_JWT_PRIVATE_KEY" in refs
        assert holds_private == (args[1] == "auth"), container.label
        assert ("EVENTHIVE_JWT_PUBLIC_KEY" in refs) == (args[1] != "auth"), container.label
        assert ("EVENTHIVE_STRIPE_SECRET_KEY" in refs) == (args[1] == "payments"), container.label

    assert sorted(databases) == ["auth", "expiration", "orders", "payments", "tickets"]
    assert len(set(databases.values())) == 5
    assert {
        s.split("-")[-1] for s in (s["metadata"]["name"] for s in of_kind(rendered("split"), "StatefulSet"))
    } >= set(databases)


# --- Secrets ---------------------------------------------------------------------------------------


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def test_no_tracked_file_carries_a_secrets_data() -> None:
    carrying = []
    for path in _tracked_files():
        if path.suffix not in {".yaml", ".yml", ".json"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "secretGenerator" in text:
            carrying.append(f"{path.relative_to(ROOT)}: a kustomize secretGenerator")
        if path.suffix == ".json" or "kind: Secret" not in text:
            continue
        for document in yaml.safe_load_all(text):
            is_secret = isinstance(document, dict) and document.get("kind") == "Secret"
            if is_secret and (document.get("data") or document.get("stringData")):
                carrying.append(f"{path.relative_to(ROOT)}: Secret {document['metadata']['name']}")

    assert not carrying, carrying
    for overlay in OVERLAYS:
        assert not of_kind(rendered(overlay), "Secret"), f"{overlay} renders a Secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_the_manifests_reference_is_documented_with_its_keys(overlay: str) -> None:
    page = DEPLOY_DOC.read_text(encoding="utf-8")
    missing = [
        f"{name}/{key}"
        for name, key in sorted(secret_refs(overlay))
        if f"`{name}`" not in page or (key != "*" and f"`{key}`" not in _secret_row(page, name))
    ]

    assert len(secret_refs(overlay)) >= 5
    assert not missing, f"document these Secrets and keys in {DEPLOY_DOC.relative_to(ROOT)}: {missing}"


def _secret_row(page: str, name: str) -> str:
    rows = [line for line in page.splitlines() if line.startswith(f"| `{name}` |")]
    return "\n".join(rows)


# --- skaffold --------------------------------------------------------------------------------------


def test_skaffolds_artifacts_and_kustomize_paths_exist_with_one_profile_per_overlay() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text(encoding="utf-8"))
    artifacts = config["build"]["artifacts"]
    profiles = {profile["name"]: profile for profile in config["profiles"]}
    paths = [*config["manifests"]["kustomize"]["paths"]]
    for profile in profiles.values():
        paths.extend(profile["manifests"]["kustomize"]["paths"])

    assert [artifact["image"] for artifact in artifacts] == [IMAGE]
    for artifact in artifacts:
        context = ROOT / artifact.get("context", ".")
        assert (context / artifact["docker"]["dockerfile"]).is_file()
    assert sorted(profiles) == sorted(OVERLAYS)
    for overlay, profile in profiles.items():
        assert profile["manifests"]["kustomize"]["paths"] == [f"deploy/kubernetes/overlays/{overlay}"]
    for path in paths:
        assert (ROOT / path / "kustomization.yaml").is_file(), path
    assert "kubectl" in config["deploy"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_eventhive_image_in_the_manifests_is_the_one_skaffold_builds(overlay: str) -> None:
    images = {container.spec["image"] for container in containers(overlay)}
    ours = {image for image in images if not re.search(r"[/:.]", image)}

    assert ours == {IMAGE}, f"bare image names other than skaffold's artifact: {ours - {IMAGE}}"


def test_every_kustomization_in_the_tree_is_used_by_an_overlay() -> None:
    used: set[Path] = set()

    def walk(folder: Path) -> None:
        folder = folder.resolve()
        if folder in used:
            return
        used.add(folder)
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
        for entry in kustomization.get("resources", []):
            if (folder / entry).is_dir():
                walk(folder / entry)

    for overlay in OVERLAYS:
        walk(KUBERNETES / "overlays" / overlay)
    every = {path.parent.resolve() for path in KUBERNETES.rglob("kustomization.yaml")}

    assert every == used, f"unused: {sorted(str(p) for p in every - used)}"
