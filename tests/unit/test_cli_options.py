"""The command line's backend choice: the environment's default, overridable before or after the subcommand."""

from __future__ import annotations

import pytest

from local.cli import build_parser
from local.emulators import BACKEND_ENV


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        (None, ["up"], "moto"),
        ("localstack", ["up"], "localstack"),
        ("localstack", ["--backend", "moto", "up"], "moto"),
        (None, ["up", "--backend", "localstack"], "localstack"),
        (None, ["analyze", "a.jpg", "--backend", "localstack"], "localstack"),
        ("localstack", ["demo", "--backend", "moto"], "moto"),
        (None, ["--backend", "localstack", "demo"], "localstack"),
    ],
)
def test_backend_from_environment_and_either_position(monkeypatch, env, argv, expected) -> None:
    if env is None:
        monkeypatch.delenv(BACKEND_ENV, raising=False)
    else:
        monkeypatch.setenv(BACKEND_ENV, env)
    assert build_parser().parse_args(argv).backend == expected


def test_unknown_backend_in_the_environment_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setenv(BACKEND_ENV, "azure")
    with pytest.raises(SystemExit) as exit_info:
        build_parser()
    assert exit_info.value.code == 2 and "azure" in capsys.readouterr().err
