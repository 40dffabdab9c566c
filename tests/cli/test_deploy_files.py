"""The Docker files, checked as far as a machine without a Docker daemon allows (README "Run it in production"):
the compose file parses, its commands are real `papers-bot` subcommands and the Procfile's, every environment
name it sets is a setting the app reads and its values parse as settings, the services start in the right
order; the Dockerfile runs `papers-bot` as a non-root user, installs as the README does, and its HEALTHCHECK is
a real subcommand. Building the image and starting the stack are not checked here (no daemon, no base images)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bot.cli import COMMANDS, HEALTH_TIMEOUT_SECONDS, build_parser
from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {name: service for name, service in SERVICES.items() if service.get("build") == "."}
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
# What compose puts in place of ${NAME:?...} (required, no default) when checking the values parse.
REQUIRED_VALUES = {"POSTGRES_PASSWORD": "pw", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                   "DIGEST_CHANNEL": "C0DIGEST"}


def instructions(name: str) -> list[str]:
    """The arguments of every Dockerfile instruction called `name` (one line each in this Dockerfile)."""
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.split(None, 1)[:1] == [name]]


def exec_form(text: str) -> list[str]:
    assert text.startswith("["), f"not the exec form: {text}"
    return yaml.safe_load(text)  # a JSON array is YAML too


def interpolate(value: str) -> str:
    """Compose's ${NAME:-default} and ${NAME:?message}, with the defaults and REQUIRED_VALUES."""
    def one(match: re.Match) -> str:
        name, kind, rest = match.groups()
        return rest if kind == ":-" else REQUIRED_VALUES[name]
    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", one, value)


def settings_read() -> set[str]:
    """Every environment name Settings.from_env asks for (it is the one reader of the environment)."""
    asked: set[str] = set()

    class Recording(dict):
        def get(self, name, default=None):
            asked.add(name)
            return default

    Settings.from_env(Recording())
    return asked


def test_the_stack_is_postgresql_the_release_migration_web_and_clock():
    assert set(SERVICES) == {"db", "migrate", "web", "clock"}
    assert set(APP_SERVICES) == {"migrate", "web", "clock"}
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "clock"):
        assert SERVICES[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert SERVICES["migrate"]["restart"] == "no"


@pytest.mark.parametrize("service, process", [("migrate", "release"), ("web", "web"), ("clock", "clock")])
def test_each_command_is_the_procfile_process_and_a_real_subcommand(service, process):
    command = APP_SERVICES[service]["command"]
    assert ["papers-bot", *command] == shlex.split(PROCFILE[process])
    args = build_parser().parse_args(command)  # exits (a test error) on anything the CLI does not know
    assert args.command in COMMANDS


@pytest.mark.parametrize("service", ["migrate", "web", "clock"])
def test_every_environment_name_is_a_setting_and_every_value_parses(service):
    environment = APP_SERVICES[service]["environment"]
    assert set(environment) - settings_read() == set()
    resolved = {name: interpolate(str(value)) for name, value in environment.items()}
    settings = Settings.from_env(resolved)  # a value the app would refuse raises ConfigError here
    assert settings.database_url.startswith("postgresql+psycopg://papers:pw@db:5432/papers")


def test_the_web_and_clock_processes_can_be_health_checked():
    web, clock = APP_SERVICES["web"], APP_SERVICES["clock"]
    web_port = Settings.from_env({k: interpolate(str(v)) for k, v in web["environment"].items()}).port
    assert web["ports"] == [f"{web_port}:{web_port}"]
    clock_settings = Settings.from_env({k: interpolate(str(v)) for k, v in clock["environment"].items()})
    assert clock_settings.health_port is not None  # `papers-bot health` asks it; the scheduler serves nothing else
    assert web["environment"]["SLACK_SIGNING_SECRET"] and "SLACK_SIGNING_SECRET" not in clock["environment"]


def test_the_dockerfile_runs_papers_bot_as_a_non_root_user_on_slim_python_311():
    [base] = instructions("FROM")
    assert re.fullmatch(r"python:3\.11-slim\S*", base)
    [user] = instructions("USER")
    assert user not in ("root", "0")
    assert any(re.search(rf"useradd\b.*\b{user}$", run) for run in instructions("RUN"))
    assert exec_form(instructions("ENTRYPOINT")[0]) == ["papers-bot"]
    [default] = instructions("CMD")
    assert ["papers-bot", *exec_form(default)] == shlex.split(PROCFILE["web"])
    assert instructions("EXPOSE") == [str(Settings().port)]


def test_the_healthcheck_is_papers_bot_health_on_the_process_port():
    [healthcheck] = instructions("HEALTHCHECK")
    command = exec_form(healthcheck.split("CMD", 1)[1].strip())
    assert command[0] == "papers-bot"
    assert build_parser().parse_args(command[1:]).command == "health"
    timeout = float(re.search(r"--timeout=(\d+)s", healthcheck).group(1))
    assert timeout > HEALTH_TIMEOUT_SECONDS  # the command answers before Docker gives up on it


def test_the_image_installs_the_package_as_the_readme_does_without_the_dev_extras():
    readme = (ROOT / "README.md").read_text()
    readme_install = re.search(r"python3 -m venv \.venv && \.venv/bin/pip install -q -e '\.\[dev\]'", readme)
    assert readme_install, "the README's install command changed: change the Dockerfile's with it"
    assert "python3 -m venv /opt/venv && /opt/venv/bin/pip install -q ." in instructions("RUN")
    copied = {source for line in instructions("COPY") for source in line.split()[:-1]}
    packages = re.search(r'include = \[(.*?)\]', (ROOT / "pyproject.toml").read_text()).group(1)
    assert {name.strip('" *') for name in packages.split(",")} | {"pyproject.toml"} <= copied


def test_the_build_context_leaves_out_the_virtualenv_and_local_databases():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "*.db", ".git"} <= set(ignored)
