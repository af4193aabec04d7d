"""Static checks of the deployment files: Dockerfile, compose, Prometheus, Grafana and CI.

Nothing here needs Docker: each file is parsed and checked against the application itself
(``nexus.config.Settings``) and against the metric names the API exports.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from nexus.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_FILE = ROOT / "docker" / "prometheus" / "prometheus.yml"
ALERTS_FILE = ROOT / "docker" / "prometheus" / "alerts.yml"
GRAFANA_DATASOURCES_FILE = ROOT / "docker" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDERS_FILE = ROOT / "docker" / "grafana" / "provisioning" / "dashboards" / "nexus.yml"
DASHBOARD_FILE = ROOT / "docker" / "grafana" / "dashboards" / "nexus-api.json"
CI_FILE = ROOT / ".github" / "workflows" / "ci.yml"

EXPECTED_SERVICES = {"migrate", "api", "postgres", "redis", "chroma", "ollama", "prometheus", "grafana"}
REQUIRED_SECRETS = ("NEXUS_JWT_SECRET", "POSTGRES_PASSWORD", "NEXUS_METRICS_TOKEN", "GRAFANA_ADMIN_PASSWORD")
PUBLISHED = {"api": 8000, "grafana": 3000}
SERVE_CMD = ["nexus", "serve", "--host", "0.0.0.0", "--port", "8000"]
IMAGE_SOURCES = {"pyproject.toml", "constraints.txt", "README.md", "backend"}

# Metric families the API exports, with their labels.
SIMPLE_METRICS: dict[str, set[str]] = {
    "nexus_http_requests_total": {"method", "route", "status"},
    "nexus_http_requests_in_progress": {"method"},
    "nexus_auth_events_total": {"event"},
    "nexus_rate_limited_total": {"route"},
    "nexus_document_chunks_total": set(),
}
HISTOGRAMS: dict[str, set[str]] = {
    "nexus_http_request_duration_seconds": {"method", "route"},
    "nexus_retrieval_duration_seconds": {"mode"},
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Series Prometheus writes itself for every scrape target, and the labels it attaches.
SCRAPE_SERIES: dict[str, set[str]] = {"up": set()}
TARGET_LABELS = {"job", "instance"}
ALL_FAMILIES = set(SIMPLE_METRICS) | set(HISTOGRAMS)

PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PROMQL_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_PROMQL_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_PROMQL_RANGE = re.compile(r"\[[^\]]*\]")
_PROMQL_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_PROMQL_NAME = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()")
_COMPOSE_VAR = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
_NEXUS_NAME = re.compile(r"\bNEXUS_[A-Z0-9_]+\b")


# --------------------------------------------------------------------------- helpers


@cache
def setting_env_names() -> frozenset[str]:
    """Return every environment variable ``nexus.config.Settings`` reads."""
    names = {"NEXUS_ENV"}
    for field in Settings.model_fields.values():
        group = field.annotation
        if isinstance(group, type) and hasattr(group, "model_fields"):
            prefix = group.model_config.get("env_prefix", "NEXUS_")
            names.update(f"{prefix}{name}".upper() for name in group.model_fields)
    return frozenset(names)


@cache
def load_yaml(path: Path) -> Any:
    """Parse a YAML file once."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    """Return the parsed compose file."""
    return load_yaml(COMPOSE_FILE)


def services() -> dict[str, dict[str, Any]]:
    """Return the compose services."""
    return compose()["services"]


def service_env(service: dict[str, Any]) -> dict[str, str | None]:
    """Return a service's environment as a mapping, whatever syntax it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return dict(pairs)
    return {key: None if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Return a service's dependencies with their start condition."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def interpolate(value: str) -> str:
    """Resolve compose ``${VAR...}`` references as compose would with none of them set."""

    def resolve(match: re.Match[str]) -> str:
        op = match["op"] or ""
        if op.endswith("-"):
            return match["arg"]
        if op.endswith("?"):
            return f"<{match['name']}>"
        return ""

    return _COMPOSE_VAR.sub(resolve, value)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Return a service's volume mounts as container path -> source."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            result[target] = source
    return result


def metric_family(series: str) -> str | None:
    """Return the exported family a series name belongs to, or None if it is not one."""
    if series in SIMPLE_METRICS or series in SCRAPE_SERIES:
        return series
    for suffix in HISTOGRAM_SUFFIXES:
        base = series.removesuffix(suffix)
        if base != series and base in HISTOGRAMS:
            return base
    return None


def family_labels(family: str) -> set[str]:
    """Return the labels a family's series carry, target labels included."""
    labels = {**SIMPLE_METRICS, **HISTOGRAMS, **SCRAPE_SERIES}[family]
    return labels | TARGET_LABELS | ({"le"} if family in HISTOGRAMS else set())


def promql_series(expr: str) -> tuple[set[str], list[str]]:
    """Return the series names an expression selects, and its problems with the exported metrics."""
    problems: list[str] = []
    text = _PROMQL_VARIABLE.sub("", _PROMQL_STRING.sub('""', expr))
    grouping = {label.strip() for group in _PROMQL_GROUPING.findall(text) for label in group.split(",")}
    grouping.discard("")
    text = _PROMQL_GROUPING.sub(" ", text)
    for name, matchers in _PROMQL_SELECTOR.findall(text):
        labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
        family = metric_family(name) if name else None
        if family and labels - family_labels(family):
            problems.append(f"{name} has no label(s) {sorted(labels - family_labels(family))}")
    text = _PROMQL_RANGE.sub("", _PROMQL_SELECTOR.sub(r" \1 ", text))
    series = {name for name in _PROMQL_NAME.findall(text) if name not in PROMQL_KEYWORDS}
    if not series:
        problems.append("selects no series")
    families = {metric_family(name) for name in series}
    problems.extend(f"unknown series {name}" for name in sorted(series) if metric_family(name) is None)
    known = set().union(*(family_labels(f) for f in families if f)) if any(families) else set()
    if grouping - known:
        problems.append(f"groups by unknown label(s) {sorted(grouping - known)}")
    return series, problems


def dashboard() -> dict[str, Any]:
    """Return the parsed Grafana dashboard."""
    return json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every panel, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


def dashboard_exprs() -> list[str]:
    """Return the PromQL of every dashboard panel target."""
    return [
        target["expr"]
        for panel in walk_panels(dashboard()["panels"])
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


def alert_rules() -> list[dict[str, Any]]:
    """Return every alerting rule."""
    return [rule for group in load_yaml(ALERTS_FILE)["groups"] for rule in group["rules"]]


def api_scrape_job() -> dict[str, Any]:
    """Return the Prometheus scrape job that targets the API."""
    for job in load_yaml(PROMETHEUS_FILE)["scrape_configs"]:
        targets = [t for static in job.get("static_configs") or [] for t in static.get("targets") or []]
        if "api:8000" in targets:
            return job
    raise AssertionError("no scrape job targets api:8000")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (KEYWORD, arguments), continuations joined."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Return the instructions of each build stage, the global ARGs resolved into FROM."""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and not stages and "=" in rest:
            name, value = rest.split("=", 1)
            args[name] = value
        if keyword == "FROM":
            for name, value in args.items():
                rest = rest.replace(f"${{{name}}}", value).replace(f"${name}", value)
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def dockerignore_excludes(path: str) -> bool:
    """Return whether .dockerignore keeps ``path`` out of the build context (Docker's rules)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(candidate, pattern[3:])
            ):
                excluded = not negate
                break
    return excluded


def workflow() -> dict[str, Any]:
    """Return the parsed CI workflow."""
    return load_yaml(CI_FILE)


# --------------------------------------------------------------------------- tests


class TestDockerfile:
    """docker/Dockerfile builds a small, non-root image of the package."""

    def test_is_multi_stage_on_python_311_slim(self) -> None:
        """Build in one stage and run in another, both from python:3.11-slim."""
        stages = dockerfile_stages()
        assert len(stages) >= 2
        for stage in stages:
            image = stage[0][1].split()[0]
            assert image == "python:3.11-slim", image

    def test_runs_as_non_root_user(self) -> None:
        """Switch to a non-root USER in the final stage."""
        users = [rest for keyword, rest in dockerfile_stages()[-1] if keyword == "USER"]
        assert users, "final stage has no USER"
        user = users[-1].split(":")[0]
        assert user not in {"root", "0"}

    def test_installs_with_constraints_and_no_cache(self) -> None:
        """Install the package with pip, the pinned constraints file and no pip cache."""
        installs = [
            rest for keyword, rest in dockerfile_instructions() if keyword == "RUN" and "pip install" in rest
        ]
        assert installs
        assert any(
            "--no-cache-dir" in cmd and re.search(r"(-c|--constraint)[ =]constraints\.txt\b", cmd)
            for cmd in installs
        )

    def test_finds_the_pinned_cpu_build_of_torch(self) -> None:
        """Install from PyTorch's CPU index when constraints.txt pins a local '+cpu' torch build."""
        pinned = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
        assert pinned, "constraints.txt pins no torch"
        if pinned.group(1).endswith("+cpu"):
            installs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
            assert any(
                "https://download.pytorch.org/whl/cpu" in cmd and "constraints.txt" in cmd for cmd in installs
            )

    def test_copies_only_package_sources(self) -> None:
        """Copy only pyproject.toml, constraints.txt, README.md and backend/ from the context."""
        sources: set[str] = set()
        for keyword, rest in dockerfile_instructions():
            if keyword == "ADD":
                pytest.fail("use COPY, not ADD")
            if keyword != "COPY" or "--from=" in rest:
                continue
            args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            args = [arg for arg in args if not arg.startswith("--")]
            sources.update(src.removeprefix("./").rstrip("/") for src in args[:-1])
        assert sources == IMAGE_SOURCES

    def test_healthcheck_uses_python_against_live(self) -> None:
        """Probe /health/live with python, since the slim image has no curl."""
        checks = [rest for keyword, rest in dockerfile_stages()[-1] if keyword == "HEALTHCHECK"]
        assert len(checks) == 1
        assert "/health/live" in checks[0]
        assert "python" in checks[0]
        assert not re.search(r"\b(curl|wget)\b", checks[0])

    def test_runtime_settings(self) -> None:
        """Expose 8000, keep data in the /data volume and serve on all interfaces."""
        final = dockerfile_stages()[-1]
        assert ("EXPOSE", "8000") in final
        assert any(keyword == "VOLUME" and "/data" in rest for keyword, rest in final)
        env: dict[str, str] = {}
        for keyword, rest in final:
            if keyword == "ENV":
                env.update(token.split("=", 1) for token in shlex.split(rest) if "=" in token)
        assert env.get("NEXUS_DATA_DIR") == "/data"
        cmds = [rest for keyword, rest in final if keyword == "CMD"]
        assert cmds and json.loads(cmds[-1]) == SERVE_CMD

    def test_nexus_variables_are_settings(self) -> None:
        """Name only NEXUS_* variables that the settings read."""
        used = set(_NEXUS_NAME.findall(DOCKERFILE.read_text(encoding="utf-8")))
        assert used - setting_env_names() == set()

    @pytest.mark.parametrize(
        ("path", "excluded"),
        [
            (".env", True),
            (".git/HEAD", True),
            (".venv/bin/python", True),
            ("var/nexus.db", True),
            ("frontend/package.json", True),
            ("tests/test_deploy.py", True),
            ("backend/nexus/__pycache__/config.cpython-311.pyc", True),
            ("pyproject.toml", False),
            ("constraints.txt", False),
            ("README.md", False),
            ("backend/nexus/config.py", False),
        ],
    )
    def test_dockerignore_keeps_context_small(self, path: str, excluded: bool) -> None:
        """Send only the package sources to the build, never .env or .git."""
        assert dockerignore_excludes(path) is excluded


class TestCompose:
    """docker-compose.yml deploys the team stack safely."""

    def test_has_expected_services(self) -> None:
        """Declare every service of the deployment."""
        assert EXPECTED_SERVICES <= set(services())

    def test_setting_introspection_sees_groups(self) -> None:
        """Derive variable names from the nested setting groups, not the group names."""
        names = setting_env_names()
        assert {"NEXUS_ENV", "NEXUS_DATABASE_URL", "NEXUS_JWT_SECRET", "NEXUS_METRICS_TOKEN"} <= names
        assert "NEXUS_STORAGE" not in names

    def test_nexus_variables_are_settings(self) -> None:
        """Name only NEXUS_* variables that the settings read, in values, keys and comments."""
        text = COMPOSE_FILE.read_text(encoding="utf-8")
        used = set(_NEXUS_NAME.findall(text))
        for service in services().values():
            used.update(key for key in service_env(service) if key.startswith("NEXUS_"))
        assert "NEXUS_DATABASE_URL" in used
        assert used - setting_env_names() == set()

    @pytest.mark.parametrize("name", REQUIRED_SECRETS)
    def test_required_secret_refuses_to_start_without_it(self, name: str) -> None:
        """Reference each required secret only as ${VAR:?message}."""
        refs = [
            m for m in _COMPOSE_VAR.finditer(COMPOSE_FILE.read_text(encoding="utf-8")) if m["name"] == name
        ]
        assert refs, f"{name} is never referenced"
        assert all(m["op"] == ":?" and m["arg"].strip() for m in refs)

    def test_no_literal_secrets(self) -> None:
        """Take every password, secret, token and DSN from the environment, never from the file."""
        for name, service in services().items():
            for key, value in service_env(service).items():
                if re.search(r"PASSWORD|SECRET|TOKEN|DSN", key) and value is not None:
                    assert value.startswith("${") and ":?" in value, f"{name}.{key} is a literal"

    def test_app_environment(self) -> None:
        """Run api and migrate in production against postgres and redis."""
        for name in ("api", "migrate"):
            env = service_env(services()[name])
            assert env["NEXUS_ENV"] == "production"
            url = env["NEXUS_DATABASE_URL"] or ""
            assert url.startswith("postgresql://nexus:${POSTGRES_PASSWORD:?")
            assert url.endswith("@postgres:5432/nexus")
            assert env["NEXUS_RATE_LIMIT_STORAGE"] == "redis://redis:6379/0"
            assert "NEXUS_FORWARDED_ALLOW_IPS" in env
        postgres_env = service_env(services()["postgres"])
        assert postgres_env["POSTGRES_USER"] == "nexus"
        assert postgres_env["POSTGRES_DB"] == "nexus"

    def test_api_and_migrate_share_image(self) -> None:
        """Build api and migrate from the same Dockerfile into the same image."""
        api, migrate = services()["api"], services()["migrate"]
        assert api.get("build") and api.get("build") == migrate.get("build")
        assert api.get("image") == migrate.get("image")
        build = api["build"]
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        context = build.get("context", ".") if isinstance(build, dict) else build
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE

    def test_start_order(self) -> None:
        """Migrate once postgres is healthy, start api once migrate succeeded."""
        migrate, api = services()["migrate"], services()["api"]
        command = migrate["command"]
        assert (command.split() if isinstance(command, str) else command) == ["nexus", "migrate"]
        assert depends_on(migrate).get("postgres") == "service_healthy"
        assert depends_on(api) == {
            "migrate": "service_completed_successfully",
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "chroma": "service_started",
        }

    def test_images_and_healthchecks(self) -> None:
        """Use postgres:16 and redis:7, each with a healthcheck."""
        for name, image in (("postgres", "postgres:16"), ("redis", "redis:7")):
            service = services()[name]
            assert service["image"] == image
            healthcheck = service.get("healthcheck") or {}
            assert healthcheck.get("test") and not healthcheck.get("disable")
        assert services()["chroma"]["image"].startswith("chromadb/chroma")
        assert services()["ollama"]["image"].startswith("ollama/ollama")

    def test_only_api_and_grafana_publish_on_localhost(self) -> None:
        """Publish only 8000 (api) and 3000 (grafana), bound to 127.0.0.1 by default."""
        published = {name for name, service in services().items() if service.get("ports")}
        assert published == set(PUBLISHED)
        for name, container_port in PUBLISHED.items():
            for port in services()[name]["ports"]:
                if isinstance(port, dict):
                    host_ip, target = port.get("host_ip"), int(port["target"])
                else:
                    parts = interpolate(str(port)).split("/")[0].split(":")
                    host_ip, target = (
                        (parts[0], int(parts[-1])) if len(parts) == 3 else (None, int(parts[-1]))
                    )
                assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond localhost"
                assert target == container_port

    def test_volumes_are_declared_and_bind_mounts_exist(self) -> None:
        """Keep data in declared named volumes and mount only files that exist."""
        declared = set(compose().get("volumes") or {})
        for name, service in services().items():
            for source in mounts(service).values():
                if source.startswith((".", "/")):
                    assert (ROOT / source).exists(), f"{name} mounts missing {source}"
                else:
                    assert source in declared, f"{name} uses undeclared volume {source}"
        assert mounts(services()["api"]).get("/data") in declared
        assert mounts(services()["postgres"]).get("/var/lib/postgresql/data") in declared

    def test_metrics_token_secret_readable_by_prometheus(self) -> None:
        """Hand Prometheus the metrics token as a world-readable file (it runs as nobody)."""
        path = api_scrape_job()["authorization"]["credentials_file"]
        prometheus = services()["prometheus"]
        secrets = [
            s for s in prometheus.get("secrets") or [] if isinstance(s, dict) and s.get("target") == path
        ]
        if secrets:
            definition = compose()["secrets"][secrets[0]["source"]]
            assert definition.get("environment") == "NEXUS_METRICS_TOKEN" or definition.get("file")
            assert secrets[0].get("mode", 0o400) & 0o004, "compose makes secrets 0400 unless told"
        else:
            assert path in mounts(prometheus), f"nothing mounted at {path}"


class TestPrometheusConfig:
    """docker/prometheus/prometheus.yml scrapes the API with its token."""

    def test_scrapes_api_metrics_with_bearer_file(self) -> None:
        """Scrape api:8000/metrics sending the token from a file."""
        job = api_scrape_job()
        assert job.get("metrics_path", "/metrics") == "/metrics"
        auth = job["authorization"]
        assert auth.get("type", "Bearer") == "Bearer"
        assert auth["credentials_file"] == "/etc/prometheus/metrics_token"
        assert "credentials" not in auth

    def test_rule_files_are_mounted(self) -> None:
        """Load alert rules from files compose mounts into the container."""
        rule_files = load_yaml(PROMETHEUS_FILE)["rule_files"]
        container_mounts = mounts(services()["prometheus"])
        assert rule_files
        for path in rule_files:
            assert path in container_mounts
            assert (ROOT / container_mounts[path]).resolve() == ALERTS_FILE

    def test_config_is_mounted(self) -> None:
        """Mount this file as Prometheus' configuration."""
        source = mounts(services()["prometheus"])["/etc/prometheus/prometheus.yml"]
        assert (ROOT / source).resolve() == PROMETHEUS_FILE


class TestAlertRules:
    """docker/prometheus/alerts.yml alerts on the API's exported metrics."""

    def test_rules_are_complete(self) -> None:
        """Give every rule a unique name, an expression, a severity and a summary."""
        rules = alert_rules()
        names = [rule["alert"] for rule in rules]
        assert len(names) == len(set(names))
        for rule in rules:
            assert rule["expr"].strip()
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            assert rule["annotations"]["summary"]

    def test_expressions_use_exported_metrics(self) -> None:
        """Reference only exported metric names and their labels."""
        for rule in alert_rules():
            _, problems = promql_series(rule["expr"])
            assert problems == [], f"{rule['alert']}: {problems}"

    def test_covers_down_errors_and_latency(self) -> None:
        """Alert when the API is down, returns many 5xx or is slow at p95."""
        job = api_scrape_job()["job_name"]
        exprs = [re.sub(r"\s+", "", rule["expr"]) for rule in alert_rules()]
        assert any(f'up{{job="{job}"}}' in expr for expr in exprs)
        assert any('nexus_http_requests_total{status=~"5.."}' in expr for expr in exprs)
        assert any("histogram_quantile(0.95," in expr and "_bucket" in expr for expr in exprs)

    @pytest.mark.parametrize(
        "expr",
        [
            "sum(rate(nexus_http_request_total[5m]))",
            "sum(rate(nexus_http_requests_total_count[5m]))",
            "rate(nexus_http_request_duration_seconds[5m])",
            "sum by (path) (rate(nexus_http_requests_total[5m]))",
            'nexus_auth_events_total{kind="login_failed"}',
            "vector(1)",
        ],
    )
    def test_metric_check_rejects_mistakes(self, expr: str) -> None:
        """Flag misspelt metrics, wrong histogram suffixes and unknown labels."""
        _, problems = promql_series(expr)
        assert problems


class TestGrafana:
    """docker/grafana provisions Prometheus and the Nexus API dashboard."""

    def test_datasource_points_at_prometheus_service(self) -> None:
        """Provision the compose prometheus service as the default datasource."""
        (datasource,) = load_yaml(GRAFANA_DATASOURCES_FILE)["datasources"]
        assert datasource["type"] == "prometheus"
        assert datasource.get("isDefault") is True
        assert urlsplit(datasource["url"]).hostname in services()

    def test_dashboard_provider_reads_mounted_folder(self) -> None:
        """Load dashboards from the folder compose mounts docker/grafana/dashboards at."""
        grafana_mounts = mounts(services()["grafana"])
        assert (
            ROOT / grafana_mounts["/etc/grafana/provisioning"]
        ).resolve() == ROOT / "docker/grafana/provisioning"
        for provider in load_yaml(GRAFANA_PROVIDERS_FILE)["providers"]:
            path = provider["options"]["path"]
            assert (ROOT / grafana_mounts[path]).resolve() == DASHBOARD_FILE.parent

    def test_panel_ids_are_unique(self) -> None:
        """Give every panel, rows and nested panels included, its own id."""
        ids = [panel["id"] for panel in walk_panels(dashboard()["panels"])]
        assert len(ids) == len(set(ids))

    def test_panels_fit_and_use_provisioned_datasource(self) -> None:
        """Lay panels out on the 24-column grid and query the provisioned datasource."""
        (datasource,) = load_yaml(GRAFANA_DATASOURCES_FILE)["datasources"]
        for panel in walk_panels(dashboard()["panels"]):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, panel["title"]
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), panel["title"]

    def test_expressions_use_exported_metrics(self) -> None:
        """Reference only exported metric names and their labels."""
        exprs = dashboard_exprs()
        assert exprs
        for expr in exprs:
            _, problems = promql_series(expr)
            assert problems == [], f"{expr}: {problems}"

    def test_variables_use_exported_metrics(self) -> None:
        """Fill template variables from exported metrics and labels."""
        for variable in dashboard()["templating"]["list"]:
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else query or ""
            match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
            assert match, query
            series, problems = promql_series(match[1])
            assert problems == []
            assert all(match[2] in family_labels(metric_family(name) or "") for name in series)

    def test_dashboard_covers_every_metric(self) -> None:
        """Chart every exported metric family at least once."""
        families = {metric_family(name) for expr in dashboard_exprs() for name in promql_series(expr)[0]}
        assert ALL_FAMILIES <= families

    @pytest.mark.parametrize("quantile", ["0.5", "0.95", "0.99"])
    def test_latency_quantiles_by_route(self, quantile: str) -> None:
        """Chart p50, p95 and p99 latency per route from the histogram buckets."""
        head = rf"histogram_quantile\({re.escape(quantile)},sumby\((le,route|route,le)\)\(rate\("
        pattern = head + "nexus_http_request_duration_seconds_bucket"
        exprs = [re.sub(r"\s+", "", expr) for expr in dashboard_exprs()]
        assert any(re.search(pattern, expr) for expr in exprs)


class TestCiWorkflow:
    """.github/workflows/ci.yml runs the project's checks with real backing services."""

    def test_triggers_on_push_and_pull_request(self) -> None:
        """Run on every push and pull request."""
        # PyYAML (YAML 1.1) reads the bare key `on` as True.
        triggers = workflow().get("on", workflow().get(True))
        assert {"push", "pull_request"} <= set(triggers)

    def test_job_runs_ci_script_on_python_311(self) -> None:
        """Check out, set up Python 3.11 on ubuntu-latest and run `bash .ci/run`."""
        (job,) = workflow()["jobs"].values()
        assert job["runs-on"] == "ubuntu-latest"
        steps = job["steps"]
        uses = [step.get("uses", "") for step in steps]
        assert any(use.startswith("actions/checkout@") for use in uses)
        (setup,) = [step for step in steps if step.get("uses", "").startswith("actions/setup-python@")]
        assert setup["with"]["python-version"] == "3.11"
        runs = [line.strip() for step in steps for line in str(step.get("run", "")).splitlines()]
        assert "bash .ci/run" in runs

    def test_services(self) -> None:
        """Provide postgres:16 (trust auth, db test) on 5432 and redis:7 on 6379."""
        (job,) = workflow()["jobs"].values()
        postgres, redis = job["services"]["postgres"], job["services"]["redis"]
        assert postgres["image"] == "postgres:16"
        assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
        assert postgres["env"]["POSTGRES_DB"] == "test"
        assert "5432:5432" in [str(port) for port in postgres["ports"]]
        assert redis["image"] == "redis:7"
        assert "6379:6379" in [str(port) for port in redis["ports"]]
