"""The GitHub workflows are valid, run what .ci/run runs, and carry no credential; and .ci/run's stages.

CI runs on our own machines as ``bash .ci/run`` and on GitHub through .github/workflows, which call
``.ci/run STAGE...``: these tests make the two drift apart loudly. A stage added to .ci/run that no
workflow runs fails here, and so does a workflow naming a stage .ci/run does not have. The pull
request's test groups come from .ci/changed_tests.py, whose choices are checked at the end.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
MAIN = WORKFLOWS / "main.yml"
CI_RUN = ROOT / ".ci" / "run"
CHANGED_TESTS = ROOT / ".ci" / "changed_tests.py"
CI_CD_PAGE = ROOT / "docs" / "operations" / "ci-cd.md"


# --- reading the workflows --------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def triggers(workflow: dict[str, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true.
    return workflow.get("on", workflow.get(True))


@dataclass(frozen=True)
class RunStep:
    """A ``run:`` step, with every ``if:`` between it and the workflow (job, calling job, step)."""

    where: str
    script: str
    conditions: tuple[str, ...]


def run_steps(path: Path, conditions: tuple[str, ...] = ()) -> Iterator[RunStep]:
    """Every run step of a workflow, following its calls to this repository's reusable workflows."""
    for job_id, job in load(path)["jobs"].items():
        job_conditions = (*conditions, *([str(job["if"])] if "if" in job else []))
        called = job.get("uses")
        if called is not None:
            assert called.startswith("./.github/workflows/"), f"{path.name}:{job_id} calls {called}"
            yield from run_steps(ROOT / called, job_conditions)
            continue
        for number, step in enumerate(job.get("steps", [])):
            if "run" in step:
                step_conditions = (*job_conditions, *([str(step["if"])] if "if" in step else []))
                yield RunStep(f"{path.name}:{job_id}:{number}", step["run"], step_conditions)


CI_RUN_CALL = re.compile(r"(?:^|[\s;&|(])(?:bash\s+)?\.ci/run\b([^\n;&|]*)")


def ci_run_stages(script: str) -> set[str]:
    """The stages a script names in its ``.ci/run`` calls (the words before ``--``, options aside)."""
    stages: set[str] = set()
    for call in CI_RUN_CALL.finditer(script):
        for word in shlex.split(call.group(1)):
            if word == "--":
                break
            if not word.startswith("-"):
                stages.add(word)
    return stages


def stages_run_by(path: Path, unconditional: bool = False) -> set[str]:
    return {
        stage
        for step in run_steps(path)
        if not (unconditional and step.conditions)
        for stage in ci_run_stages(step.script)
    }


def ci_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(CI_RUN), *args], capture_output=True, text=True, check=False, timeout=60)


def listed_stages() -> list[str]:
    done = ci_run("--list")
    assert done.returncode == 0, done.stderr
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def dry_run_stages(*args: str) -> list[str]:
    """The stages (as their timing lines name them) and commands ``.ci/run --dry-run ARGS`` would run."""
    done = ci_run("--dry-run", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return re.findall(r"^=== stage (\S+: .*)$", done.stdout, flags=re.MULTILINE)


# --- the schema ---------------------------------------------------------------------------------

# Runs check-jsonschema's own command line with every way to open a connection refused, so a
# schema it would fetch (instead of the one it ships) fails the test.
OFFLINE_CHECK_JSONSCHEMA = """
import runpy, socket, sys

def refuse(*args, **kwargs):
    raise OSError("check-jsonschema tried the network")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
sys.argv = ["check-jsonschema", *sys.argv[1:]]
runpy.run_module("check_jsonschema", run_name="__main__", alter_sys=True)
"""


def check_workflow_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_there_is_a_pull_request_workflow_and_a_main_workflow() -> None:
    assert "pull_request" in triggers(load(PULL_REQUEST))
    assert triggers(load(MAIN)) == {"push": {"branches": ["main"]}}


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda path: path.name)
def test_each_workflow_validates_offline_against_the_github_workflow_schema(workflow: Path) -> None:
    done = check_workflow_schema(workflow)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tried the network" not in done.stdout + done.stderr


def test_the_schema_check_fails_a_workflow_job_with_no_runner(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: echo hi\n", encoding="utf-8")
    done = check_workflow_schema(broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "runs-on" in done.stdout


# --- the workflows run what .ci/run runs -------------------------------------------------------


def test_the_main_workflow_runs_every_stage_of_ci_run() -> None:
    missing = set(listed_stages()) - stages_run_by(MAIN)
    assert not missing, f"main.yml never runs `.ci/run {' '.join(sorted(missing))}`"


def test_every_stage_a_workflow_names_is_a_stage_of_ci_run() -> None:
    stages = set(listed_stages())
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        unknown = stages_run_by(workflow) - stages
        assert not unknown, f"{workflow.name} runs .ci/run stages that do not exist: {sorted(unknown)}"


def test_the_pull_request_workflow_always_runs_every_check() -> None:
    always = stages_run_by(PULL_REQUEST, unconditional=True)
    assert {"lint", "typing", "arch", "docs", "core-only"} <= always, f"run on every pull request: {sorted(always)}"


def test_the_pull_request_workflow_runs_the_test_groups_the_change_can_break() -> None:
    steps = list(run_steps(PULL_REQUEST))
    assert any(".ci/changed_tests.py --base" in step.script for step in steps)
    assert any("tests" in ci_run_stages(step.script) and "-- $PYTEST_ARGS" in step.script for step in steps)


def test_the_workflows_use_ci_runs_own_commands_for_the_checks() -> None:
    # A check written out in a workflow instead of called through .ci/run could drift from it.
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        for step in run_steps(workflow):
            for command in ("ruff ", "mypy ", "lint-imports", "mkdocs ", "tox ", "pytest"):
                assert command not in step.script, f"{step.where} runs {command!r} itself, not through .ci/run"


def test_the_tests_run_with_ci_true_and_python_3_11() -> None:
    checks = load(WORKFLOWS / "checks.yml")
    for job_id, job in checks["jobs"].items():
        assert job.get("env", {}).get("CI") == "true", f"{job_id}: a missing service must fail, not skip"
        python = [step["with"]["python-version"] for step in job["steps"] if "setup-python" in step.get("uses", "")]
        assert python == ["3.11"], job_id


def test_nats_runs_with_jetstream_beside_the_service_containers() -> None:
    tests = load(WORKFLOWS / "checks.yml")["jobs"]["tests"]
    assert {"postgres", "redis", "rabbitmq"} <= set(tests["services"])
    assert any(
        re.search(r"docker run .*-p(ublish)? 4222:4222 nats:\S+ -js\b", step.get("run", "")) for step in tests["steps"]
    )


# --- deployment -----------------------------------------------------------------------------------


def deploy_job() -> dict[str, Any]:
    job = load(MAIN)["jobs"]["deploy"]
    assert isinstance(job, dict)
    return job


def deploy_script() -> str:
    return "\n".join(step.get("run", "") for step in deploy_job()["steps"])


def test_the_image_is_deployed_only_after_every_check_and_test_passed() -> None:
    assert deploy_job()["needs"] == "checks"
    assert "uses" in load(MAIN)["jobs"]["checks"]
    assert "if" not in deploy_job(), "a deploy that runs after a failure (always(), failure()) must not exist"


def test_the_deploy_builds_and_pushes_with_skaffold_then_deploys_those_very_images() -> None:
    script = deploy_script()
    build = re.search(r"skaffold build (.*?--file-output \"?(\S+?)\"?)\s*$", script, flags=re.MULTILINE | re.DOTALL)
    assert build, script
    assert '--default-repo "$IMAGE_REPOSITORY"' in build.group(1)
    assert "--push" in build.group(1)
    assert f'skaffold deploy --profile "$DEPLOY_PROFILE" --build-artifacts "{build.group(2)}"' in script
    assert script.index("skaffold build") < script.index("skaffold deploy")


def test_the_deploy_profile_is_a_repository_variable_that_defaults_to_single() -> None:
    assert deploy_job()["env"]["DEPLOY_PROFILE"] == "${{ vars.DEPLOY_PROFILE || 'single' }}"
    assert "single | split)" in deploy_script()


def test_skaffold_and_kubectl_are_pinned_and_checked_against_their_sha256() -> None:
    env = deploy_job()["env"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["SKAFFOLD_VERSION"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["KUBECTL_VERSION"])
    script = deploy_script()
    assert script.count("sha256sum --check --strict") == 2
    assert script.index("sha256sum --check --strict") < script.index("install -m 0755 skaffold")


def test_deploys_never_overlap_nor_cancel_each_other() -> None:
    assert deploy_job()["concurrency"]["cancel-in-progress"] is False


def test_every_workflow_only_reads_the_repository() -> None:
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        data = load(workflow)
        assert data["permissions"] == {"contents": "read"}, workflow.name
        for job_id, job in data["jobs"].items():
            assert job.get("permissions", {"contents": "read"}) == {"contents": "read"}, f"{workflow.name}:{job_id}"


def test_every_action_is_pinned_to_a_version() -> None:
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        for job in load(workflow)["jobs"].values():
            for step in job.get("steps", []):
                action = step.get("uses")
                if action:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", action), action


# --- credentials ----------------------------------------------------------------------------------

SECRET_LOOKING_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|KUBE_?CONFIG|API_?KEY|PRIVATE_?KEY", re.I)
SECRET_REFERENCE = re.compile(r"\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
# Shapes of real credentials: GitHub tokens, AWS keys, private keys, a password on a command line.
CREDENTIAL_SHAPES = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|docker login\b[^\n]*\s(-p|--password)[ =]"
)


def mappings(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (where, key, value) of a YAML tree's mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, str(key), value
            yield from mappings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from mappings(item, f"{path}[{index}]")


def test_no_workflow_carries_a_literal_credential() -> None:
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        text = workflow.read_text(encoding="utf-8")
        assert not CREDENTIAL_SHAPES.search(text), f"{workflow.name} holds something shaped like a credential"
        for where, key, value in mappings(load(workflow)):
            # A flag (persist-credentials: false) holds no credential; a string or a number might.
            if SECRET_LOOKING_NAME.search(key) and isinstance(value, str | int | float) and not isinstance(value, bool):
                assert SECRET_REFERENCE.fullmatch(str(value).strip()), (
                    f"{workflow.name}{where}.{key} must be a ${{{{ secrets.NAME }}}} reference, not a value"
                )


def test_secrets_reach_the_scripts_only_through_the_environment() -> None:
    # In a run script GitHub pastes an expression's value into the shell source; through env: it stays data.
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        for step in run_steps(workflow):
            assert "secrets." not in step.script, step.where
            assert "${{" not in step.script, f"{step.where}: pass expressions through env:"


def test_the_pull_request_workflow_needs_no_secret() -> None:
    for workflow in (PULL_REQUEST, WORKFLOWS / "checks.yml"):
        assert "secrets." not in workflow.read_text(encoding="utf-8"), workflow.name


def test_the_ci_cd_page_names_every_secret_and_variable_the_workflows_read() -> None:
    page = CI_CD_PAGE.read_text(encoding="utf-8")
    names = set()
    for workflow in sorted(WORKFLOWS.glob("*.y*ml")):
        names |= set(re.findall(r"\b(?:secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)", workflow.read_text(encoding="utf-8")))
    assert names >= {"REGISTRY_USERNAME", "REGISTRY_PASSWORD", "KUBE_CONFIG", "IMAGE_REPOSITORY", "DEPLOY_PROFILE"}
    undocumented = {name for name in names if f"`{name}`" not in page}
    assert not undocumented, f"docs/operations/ci-cd.md does not name {sorted(undocumented)}"


# --- .ci/run's stages ----------------------------------------------------------------------------

WHOLE_RUN = [
    "services: services",
    "browser: .ci/install-browser",
    "nginx: .ci/install-nginx",
    "venv: fresh_venv",
    "tests: readme_tests",
    "dev-tools: dev_tools",
    "ruff-check: ruff check .",
    "ruff-format: ruff format --check .",
    "mypy: mypy --strict src",
    "lint-imports: lint-imports --no-cache",
    "mkdocs: mkdocs build --strict --site-dir .venv-ci/site",
    "core-only: tox -e core-only",
]


def test_ci_run_alone_runs_every_stage_in_a_fresh_virtualenv_in_order() -> None:
    assert dry_run_stages() == WHOLE_RUN


def test_ci_run_lists_its_stages_in_the_order_they_run() -> None:
    assert listed_stages() == ["services", "browser", "nginx", "tests", "lint", "typing", "arch", "docs", "core-only"]


def test_a_named_stage_runs_alone_after_the_tools_it_needs() -> None:
    # venv shows only when .venv-ci is missing: a run of named stages keeps the one it finds.
    stages = [stage for stage in dry_run_stages("lint") if not stage.startswith("venv:")]
    assert stages == ["dev-tools: dev_tools", "ruff-check: ruff check .", "ruff-format: ruff format --check ."]


def test_named_stages_run_in_ci_runs_order_whatever_order_they_are_given_in() -> None:
    stages = [stage.split(":")[0] for stage in dry_run_stages("typing", "tests", "services")]
    assert [stage for stage in stages if stage != "venv"] == ["services", "tests", "dev-tools", "mypy"]


def test_arguments_after_a_double_dash_go_to_pytest_after_the_readme_install() -> None:
    assert "tests: tests_on tests/unit tests/flask -x" in dry_run_stages(
        "tests", "--", "tests/unit", "tests/flask", "-x"
    )
    function = re.search(r"^tests_on\(\) \{\n(.*?)^\}", CI_RUN.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert function
    assert function.group(1).strip() == 'pip install -e ".[all,test]" && pytest "$@"'


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["lints"], "unknown stage: lints"),
        (["--fast"], "unknown option: --fast"),
        (["lint", "--", "tests/unit"], "need the tests stage"),
    ],
)
def test_ci_run_refuses_what_it_does_not_know_before_running_anything(args: list[str], complaint: str) -> None:
    done = ci_run(*args)
    assert done.returncode == 2
    assert complaint in done.stderr
    assert "=== stage" not in done.stdout


# --- .ci/changed_tests.py: the test groups of a pull request -----------------------------------------


@pytest.fixture(scope="module")
def changed_tests() -> ModuleType:
    spec = importlib.util.spec_from_file_location("changed_tests", CHANGED_TESTS)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is made.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def pytest_testpaths() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["tool"]["pytest"]["ini_options"]["testpaths"])


def test_a_change_to_the_domain_runs_every_test(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["src/eventhive_core/domain/orders.py"]) == pytest_testpaths()


def test_a_change_to_a_flask_view_runs_the_groups_that_serve_http_and_not_the_unit_tests(
    changed_tests: ModuleType,
) -> None:
    paths = changed_tests.pytest_paths(["src/eventhive_flask/views/api.py"])
    assert {"tests/flask", "tests/browser", "tests/e2e", "tests/fuzz"} <= set(paths)
    assert not {"tests/unit", "tests/contract", "tests/docs", "tests/deploy"} & set(paths)


def test_a_change_elsewhere_in_the_flask_extension_also_runs_the_tests_that_import_it(
    changed_tests: ModuleType,
) -> None:
    paths = changed_tests.pytest_paths(["src/eventhive_flask/config.py"])
    assert {"tests/unit", "tests/flask", "tests/docs"} <= set(paths)
    assert "tests/contract" not in paths


def test_a_documentation_change_runs_only_the_docs_tests(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["docs/concepts/orders.md", "mkdocs.yml"]) == ["tests/docs"]


def test_a_change_to_the_deployment_files_or_the_workflows_runs_the_deploy_tests(changed_tests: ModuleType) -> None:
    for path in (
        "deploy/kubernetes/base/kustomization.yaml",
        "Containerfile",
        "skaffold.yaml",
        ".github/workflows/main.yml",
    ):
        assert changed_tests.pytest_paths([path]) == ["tests/deploy"], path


def test_a_change_to_ci_run_runs_the_tests_that_check_it(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths([".ci/run"]) == ["tests/docs", "tests/deploy"]


def test_a_changed_test_runs_its_own_group_only(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["tests/stripe/test_stripe_stand_in.py"]) == ["tests/stripe"]
    assert changed_tests.pytest_paths(["tests/unit/contracts/snapshots/order.json"]) == ["tests/unit"]


def test_a_change_to_the_shared_fixtures_runs_every_test(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["tests/conftest.py"]) == pytest_testpaths()


def test_a_path_no_rule_knows_runs_every_test(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["something-new.cfg"]) == pytest_testpaths()


def test_a_change_no_test_reads_runs_no_test(changed_tests: ModuleType) -> None:
    assert changed_tests.pytest_paths(["LICENSE", "benchmarks/purchase_path.py", ""]) == []


def test_the_groups_of_several_changes_are_joined_in_one_order(changed_tests: ModuleType) -> None:
    paths = changed_tests.pytest_paths(["tests/fuzz/conftest.py", "README.md", "tests/unit/test_input_patterns.py"])
    assert paths == ["tests/unit", "tests/e2e", "tests/fuzz", "tests/docs"]


def test_a_group_with_no_folder_is_left_out_so_pytest_does_not_fail_on_it(
    changed_tests: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "tests" / "docs").mkdir(parents=True)
    assert changed_tests.pytest_paths(["README.md"], root=tmp_path) == ["tests/docs"]


def test_every_test_folder_is_a_group_the_mapping_orders(changed_tests: ModuleType) -> None:
    folders = {
        path.name for path in (ROOT / "tests").iterdir() if path.is_dir() and not path.name.startswith((".", "_"))
    }
    assert folders <= set(changed_tests.GROUPS)


def test_every_group_a_rule_names_is_a_test_folder(changed_tests: ModuleType) -> None:
    for rule in changed_tests.RULES:
        if rule.groups != changed_tests.EVERYTHING:
            for group in rule.groups:
                assert (ROOT / "tests" / group).is_dir(), f"{rule.patterns} names tests/{group}"


def test_the_script_reads_paths_on_stdin_and_says_why_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, str(CHANGED_TESTS)],
        input="docs/index.md\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout == "tests/docs\n"
    assert done.stderr.startswith("docs/index.md: docs (")


def test_the_script_compares_with_the_merge_base_of_a_git_ref() -> None:
    # HEAD against itself: nothing changed, so no test is named.
    done = subprocess.run(
        [sys.executable, str(CHANGED_TESTS), "--base", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
