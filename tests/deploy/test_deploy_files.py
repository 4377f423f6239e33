"""The Dockerfile and deploy/compose.yaml name real commands, options and settings.

Docker need not be installed: the files are read as Docker reads them, the command lines are
parsed by warroom's own CLI, and the image's command and health check run here, on loopback,
with the image's environment.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import REPO, free_port
from tests.deploy.files import (
    DEPLOY,
    SETTINGS,
    check_warroom_argv,
    dockerfile_instructions,
    exec_form,
)
from warroom.cli.main import app
from warroom.settings import Settings

DOCKERFILE = Path(REPO) / "Dockerfile"
INSTRUCTIONS = dockerfile_instructions(DOCKERFILE)


def instruction(name: str) -> str:
    """Return the arguments of the last instruction of this kind (the one that counts)."""
    found = [arguments for keyword, arguments in INSTRUCTIONS if keyword == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def image_env() -> dict[str, str]:
    """Return the environment the Dockerfile's ENV instructions set."""
    env: dict[str, str] = {}
    for keyword, arguments in INSTRUCTIONS:
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))  # type: ignore[misc]
    return env


def test_dockerfile_runs_warroom_as_a_user_on_a_slim_base() -> None:
    assert INSTRUCTIONS[0] == ("FROM", "python:3.11-slim")
    keywords = [keyword for keyword, _ in INSTRUCTIONS]
    # The last USER before CMD is the one the container runs as.
    assert keywords.index("USER") < keywords.index("CMD")
    user = instruction("USER").split(":")[0]
    assert user not in ("root", "0"), "the image must not run as root"
    runs = " && ".join(arguments for keyword, arguments in INSTRUCTIONS if keyword == "RUN")
    assert f"useradd --system --uid 10001 --gid {user} --home-dir /var/lib/warroom" in runs
    assert "pip install /tmp/warroom-src" in runs


def test_dockerfile_command_and_environment_are_real() -> None:
    params = check_warroom_argv(exec_form(instruction("CMD")))
    assert params["host"] == "0.0.0.0" and params["port"] == 8080
    assert instruction("EXPOSE") == str(params["port"])
    env = image_env()
    unknown = {name for name in env if name.startswith("WARROOM_")} - SETTINGS
    assert not unknown, f"the Dockerfile sets settings that do not exist: {unknown}"
    settings = Settings(**{k[8:].lower(): v for k, v in env.items() if k.startswith("WARROOM_")})
    assert str(settings.data_dir) == "/var/lib/warroom"
    assert exec_form(instruction("VOLUME")) == [str(settings.data_dir)]
    assert settings.runbooks_dir.is_relative_to(settings.data_dir)  # in the volume, writable


def test_dockerfile_health_check_asks_healthz_without_curl() -> None:
    options, _, command = instruction("HEALTHCHECK").partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"] and "urllib.request" in argv[2]
    assert "http://127.0.0.1:8080/healthz" in argv[2]
    assert "curl" not in instruction("HEALTHCHECK")


def test_dockerignore_lets_in_only_what_pip_install_needs() -> None:
    patterns = [
        line.strip()
        for line in (Path(REPO) / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:  # Docker's rule: the last matching pattern decides
        verdict = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/").removeprefix("**/")
            name = path.split("/")[-1]
            inside = path.startswith(bare + "/")  # a pattern naming a folder covers its files
            if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(name, bare) or inside:
                verdict = negated
        return verdict

    for needed in ("pyproject.toml", "README.md", "src/warroom/app.py"):
        assert sent(needed), f"{needed} is left out of the build context"
    for kept_out in (".venv", "tests/conftest.py", "var/warroom.db", "warroom.yaml", ".git"):
        assert not sent(kept_out), f"{kept_out} would be sent to the Docker daemon"
    assert not sent("src/warroom/__pycache__/app.cpython-311.pyc")


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run the image's CMD here with the image's environment (its data dir in tmp_path)."""
    port = free_port()
    argv = exec_form(instruction("CMD"))
    argv = [str(Path(sys.executable).parent / "warroom"), *argv[1:]]
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"  # 0.0.0.0 in a container; loopback here
    data = tmp_path / "var-lib-warroom"
    runs = " ".join(arguments for keyword, arguments in INSTRUCTIONS if keyword == "RUN")
    mode = re.search(r"install -d .*-m (0[0-7]{3}) /var/lib/warroom", runs)
    assert mode, "the Dockerfile does not create /var/lib/warroom with a mode"
    data.mkdir(mode=int(mode[1], 8))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")},
        **{k: v.replace("/var/lib/warroom", str(data)) for k, v in image_env().items()},
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(argv, cwd=data, env=env, stdout=output, stderr=output)
    yield process, port
    process.terminate()
    process.wait(timeout=20)


def run_health_check(port: int) -> int:
    """Run the image's HEALTHCHECK command against this port; return its exit code."""
    argv = exec_form(instruction("HEALTHCHECK").partition(" CMD ")[2])
    code = argv[2].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode


def test_image_command_serves_and_its_health_check_passes(
    image_server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    process, port = image_server
    deadline = time.monotonic() + 60
    while run_health_check(port) != 0:
        assert process.poll() is None, "warroom serve exited with the image's settings"
        assert time.monotonic() < deadline, "warroom serve did not become healthy in 60 s"
        time.sleep(0.3)
    process.terminate()  # what `docker stop` sends; uvicorn re-raises it once shut down
    assert process.wait(timeout=20) in (0, -15)
    assert run_health_check(port) != 0, "the health check passes with nothing listening"
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert '"level":"info"' in log  # WARROOM_LOG_FORMAT=json took effect
    # The volume's mode is what warroom wants: nothing to tighten, no warning at each start.
    assert "tightened permissions" not in log
    assert "this is a new database, so an admin user was created" in log


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_serve_without_engine_and_an_engine() -> None:
    services = compose()["services"]
    assert set(services) == {"serve", "engine", "db"}
    serve = check_warroom_argv(services["serve"]["command"])
    assert serve["no_engine"] is True and serve["host"] == "0.0.0.0"
    assert services["serve"]["ports"] == [f"127.0.0.1:{serve['port']}:{serve['port']}"]
    check_warroom_argv(services["engine"]["command"])
    assert services["engine"]["command"][1] == "engine"
    healthy = {"condition": "service_healthy"}
    assert services["serve"]["depends_on"] == {"db": healthy}
    # The engine starts once serve has migrated the schema (it answers /healthz after that).
    assert services["engine"]["depends_on"] == {"db": healthy, "serve": healthy}
    assert "test" not in services["serve"]["healthcheck"]  # the image's /healthz check
    # The engine's own port (warroom engine --port) answers its health check: /readyz.
    engine_argv = services["engine"]["command"]
    port = engine_argv[engine_argv.index("--port") + 1]
    check = services["engine"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{port}/readyz" in check[3]
    assert "ports" not in services["engine"]  # not published: the compose network only


def test_compose_trusts_proxy_headers_only_on_a_loopback_port() -> None:
    serve = compose()["services"]["serve"]
    if serve["environment"].get("FORWARDED_ALLOW_IPS") == "*":
        assert all(port.startswith("127.0.0.1:") for port in serve["ports"])


def test_compose_environment_names_real_settings_and_the_database() -> None:
    services = compose()["services"]
    for name in ("serve", "engine"):
        env = services[name]["environment"]
        unknown = {k for k in env if k.startswith("WARROOM_")} - SETTINGS
        assert not unknown, f"{name} sets settings that do not exist: {unknown}"
        url = Settings(database_url=env["WARROOM_DATABASE_URL"]).resolved_database_url()
        assert url == "postgresql+psycopg://warroom@db:5432/warroom"
        assert services[name]["env_file"] == ["warroom.env"]
        config = env["WARROOM_CONFIG"]
        assert any(v.split(":")[1] == config for v in services[name]["volumes"])
    db = services["db"]
    assert db["image"] == "postgres:16"
    assert db["environment"]["POSTGRES_USER"] == "warroom"
    assert db["environment"]["POSTGRES_DB"] == "warroom"


def test_compose_postgres_has_a_volume_and_a_health_check() -> None:
    loaded = compose()
    db = loaded["services"]["db"]
    volume, _, mount = db["volumes"][0].partition(":")
    assert mount == "/var/lib/postgresql/data" and volume in loaded["volumes"]
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "--username=warroom" in db["healthcheck"]["test"]


def test_env_file_example_gives_both_sides_the_same_password() -> None:
    lines = (DEPLOY / "warroom.env.example").read_text(encoding="utf-8").splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    # The db service sets POSTGRES_PASSWORD; libpq under warroom signs in with PGPASSWORD.
    assert values["POSTGRES_PASSWORD"] == values["PGPASSWORD"]


def test_the_commands_the_deployment_uses_exist() -> None:
    runner = CliRunner()
    for argv, option in ((["serve", "--help"], "--no-engine"), (["engine", "--help"], "--once")):
        done = runner.invoke(app, argv)
        assert done.exit_code == 0 and option in done.stdout


def test_a_wrong_command_line_is_caught() -> None:
    with pytest.raises(Exception, match="No such option: --engine-off"):
        check_warroom_argv(["warroom", "serve", "--engine-off"])
    with pytest.raises(AssertionError, match="no command 'engines'"):
        check_warroom_argv(["warroom", "engines"])
