"""The container image's recipe, read as text (no container engine runs here) and held to the app and the chart."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from service.storage.database import engine_url

ROOT = Path(__file__).resolve().parents[2]


def final(dockerfile, keyword):
    return [instruction for instruction in dockerfile[-1] if instruction.keyword == keyword]


def env(dockerfile):
    pairs = [item.split("=", 1) for instruction in final(dockerfile, "ENV") for item in instruction.exec_form()]
    return dict(pairs)


def test_the_image_is_built_in_two_stages_on_a_slim_python_base(dockerfile):
    args = dict(i.arguments.split("=", 1) for i in dockerfile[0] if i.keyword == "ARG")
    froms = [stage[0].arguments for stage in dockerfile[1:]]

    assert len(froms) >= 2
    assert "slim" in args["PYTHON_IMAGE"]
    assert froms[-1] == "${PYTHON_IMAGE}"
    assert [i.arguments for i in final(dockerfile, "COPY")] == ["--from=build /opt/venv /opt/venv"]


def test_the_final_stage_installs_no_build_tools(dockerfile):
    commands = " ".join(i.arguments for i in final(dockerfile, "RUN"))

    for tool in ("apt-get install", "gcc", "build-essential", "pip install"):
        assert tool not in commands


def test_the_image_runs_as_the_non_root_user_the_chart_expects(dockerfile, chart_defaults):
    user = final(dockerfile, "USER")[-1].arguments

    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert int(uid) == chart_defaults["podSecurityContext"]["runAsUser"]
    assert int(gid) == chart_defaults["podSecurityContext"]["runAsGroup"]


def test_the_healthcheck_calls_the_apps_liveness_route_on_the_exposed_port(dockerfile, routes, chart_defaults):
    healthcheck = final(dockerfile, "HEALTHCHECK")[-1].arguments
    url = urlsplit(re.search(r"http://[^'\"\s]+", healthcheck).group())
    exposed = int(final(dockerfile, "EXPOSE")[-1].arguments.split("/")[0])

    assert url.path == routes["health.healthz"]
    assert url.port == exposed == chart_defaults["server"]["port"]
    assert env(dockerfile)["CDS_BIND"].endswith(f":{exposed}")


def test_the_image_runs_gunicorn_with_the_configuration_module(dockerfile):
    assert final(dockerfile, "CMD")[-1].exec_form() == ["gunicorn", "-c", "python:service.gunicorn_conf"]
    assert (ROOT / "service" / "gunicorn_conf.py").is_file()


def test_the_metrics_folder_is_set_and_owned_by_the_service_user(dockerfile):
    folder = env(dockerfile)["PROMETHEUS_MULTIPROC_DIR"]
    commands = " ".join(i.arguments for i in final(dockerfile, "RUN"))

    assert f"mkdir -p {folder}" in commands
    assert f"chown cds:cds {folder}" in commands


def test_the_embedded_sqlite_file_lands_in_a_folder_the_service_user_owns(dockerfile):
    """Without DATABASE_URL the app writes its SQLite file relative to the working directory."""
    workdir = PurePosixPath(final(dockerfile, "WORKDIR")[-1].arguments)
    folder = workdir / PurePosixPath(engine_url(None).removeprefix("sqlite:///")).parent
    commands = " ".join(i.arguments for i in final(dockerfile, "RUN"))

    assert not PurePosixPath(engine_url(None).removeprefix("sqlite:///")).is_absolute()
    assert re.search(rf"mkdir -p [^&]*{re.escape(str(folder))}\b", commands)
    assert re.search(rf"chown cds:cds [^&]*{re.escape(str(folder))}\b", commands)


def test_the_build_context_leaves_out_local_environments_and_history():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())

    assert {".git", ".venv", "tests", "helm"} <= ignored
