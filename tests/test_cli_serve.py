"""``ketamine-cds serve``: the development server by default, gunicorn with the production configuration on request."""

from __future__ import annotations

import sys

import pytest

from service import cli


class Replaced(Exception):
    """Stands in for os.execv, which never returns."""

    def __init__(self, path: str, argv: list[str]) -> None:
        super().__init__(path)
        self.path, self.argv = path, argv


@pytest.fixture
def exec_calls(monkeypatch):
    def fake_execv(path: str, argv: list[str]) -> None:
        raise Replaced(path, argv)

    monkeypatch.setattr(cli.os, "execv", fake_execv)


def test_serve_production_becomes_gunicorn_with_the_configuration_module(exec_calls):
    with pytest.raises(Replaced) as replaced:
        cli.main(["serve", "--production"])

    assert replaced.value.path == sys.executable
    assert replaced.value.argv == [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"]


def test_serve_production_binds_where_host_and_port_say(exec_calls):
    with pytest.raises(Replaced) as replaced:
        cli.main(["serve", "--production", "--host", "127.0.0.1", "--port", "9090"])

    assert replaced.value.argv[-2:] == ["--bind", "127.0.0.1:9090"]


def test_serve_help_names_both_modes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])

    text = capsys.readouterr().out
    assert "--production" in text
    assert "service.gunicorn_conf" in text
