"""Read the rendered Kubernetes manifests: ``kubectl kustomize`` on each overlay, and what their containers run."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("single", "split")
#: The image every EventHive process runs (skaffold.yaml's artifact).
IMAGE = "eventhive"


def require_tool(name: str) -> str:
    """Return the path of a command-line tool, or skip (fail under CI=true) without it."""
    found = shutil.which(name)
    if found is None:
        require_service(f"{name} is not installed (the deployment checks need it)")
    assert found is not None
    return found


@cache
def _rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = require_tool("kubectl")
    completed = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"kubectl kustomize {overlay} failed:\n{completed.stderr}"
    return tuple(document for document in yaml.safe_load_all(completed.stdout) if document)


def rendered(overlay: str) -> list[dict[str, Any]]:
    """Return the resources ``kubectl kustomize`` renders for an overlay (a fresh copy each call)."""
    import copy

    return copy.deepcopy(list(_rendered(overlay)))


def of_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Return the resources of one kind."""
    return [resource for resource in resources if resource["kind"] == kind]


def named(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """Return the one resource of this kind and name."""
    found = [resource for resource in of_kind(resources, kind) if resource["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


@dataclass(frozen=True)
class Container:
    """One container (init containers included) of a workload, with its pod's resource."""

    overlay: str
    workload: dict[str, Any]
    spec: dict[str, Any]
    init: bool

    @property
    def label(self) -> str:
        """``single/Deployment/eventhive-web/web`` (for messages and test ids)."""
        kind, name = self.workload["kind"], self.workload["metadata"]["name"]
        return f"{self.overlay}/{kind}/{name}/{self.spec['name']}"

    @property
    def pod(self) -> dict[str, Any]:
        """The pod template of its workload."""
        return dict(self.workload["spec"]["template"])


def containers(overlay: str, *, image: str | None = None) -> Iterator[Container]:
    """Yield every container of an overlay's workloads, init containers first (only ``image``'s, if given)."""
    for workload in rendered(overlay):
        if workload["kind"] not in {"Deployment", "StatefulSet", "Job", "DaemonSet"}:
            continue
        pod_spec = workload["spec"]["template"]["spec"]
        for init, key in ((True, "initContainers"), (False, "containers")):
            for spec in pod_spec.get(key, []):
                if image is None or spec["image"].split(":")[0] == image:
                    yield Container(overlay, workload, spec, init)


def all_containers(*, image: str | None = None) -> list[Container]:
    """Every container of every overlay (only ``image``'s, if given)."""
    return [container for overlay in OVERLAYS for container in containers(overlay, image=image)]


@cache
def image_environment() -> dict[str, str]:
    """The variables the Containerfile's final stage sets with ``ENV`` (but ``PATH``, which is the image's own)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Containerfile").read_text(encoding="utf-8"))
    final = text.split("\nFROM ")[-1]
    found: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            found.update(re.findall(r"\b([A-Z][A-Z0-9_]*)=(\S+)", line))
    found.pop("PATH", None)
    return found


def environment(
    container: Container, secret: Mapping[tuple[str, str], str], *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the environment Kubernetes would give the container, secrets taken from ``secret``.

    The image's own ``ENV`` first, then ``envFrom`` ConfigMaps, then ``env`` (a later entry wins,
    as in Kubernetes); a ``secretKeyRef`` is looked up as ``secret[(name, key)]`` (a KeyError
    names one the test lacks). ``base`` (default: this process's environment without its
    ``EVENTHIVE_*``) comes before all of them.
    """
    resources = rendered(container.overlay)
    result = dict(base if base is not None else {k: v for k, v in os.environ.items() if not k.startswith("EVENTHIVE_")})
    result.update(image_environment())
    for source in container.spec.get("envFrom", []):
        config_map = named(resources, "ConfigMap", source["configMapRef"]["name"])
        result.update(config_map.get("data", {}))
    for entry in container.spec.get("env", []):
        if "value" in entry:
            result[entry["name"]] = str(entry["value"])
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            result[entry["name"]] = secret[(ref["name"], ref["key"])]
    return result


def secret_refs(overlay: str) -> set[tuple[str, str]]:
    """Every (Secret, key) the overlay's resources reference: env, envFrom, volumes and Ingress TLS (key ``*``)."""
    found: set[tuple[str, str]] = set()
    for container in containers(overlay):
        for entry in container.spec.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.add((ref["name"], ref["key"]))
        for source in container.spec.get("envFrom", []):
            if "secretRef" in source:
                found.add((source["secretRef"]["name"], "*"))
    for workload in rendered(overlay):
        template = workload.get("spec", {}).get("template", {})
        for volume in template.get("spec", {}).get("volumes", []):
            if "secret" in volume:
                found.add((volume["secret"]["secretName"], "*"))
    for ingress in of_kind(rendered(overlay), "Ingress"):
        for tls in ingress["spec"].get("tls", []):
            found.add((tls["secretName"], "*"))
    return found


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``path`` on the local ``port``; return the status and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
