"""The mlmeta command line: help everywhere, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mlmeta.cli import cli

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "records"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def _walk(group: click.Group, ctx: click.Context, prefix: str) -> list[tuple[str, click.Command]]:
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, f"{prefix} {name} is listed but cannot be loaded"
        out.append((f"{prefix} {name}", cmd))
        if isinstance(cmd, click.Group):
            out.extend(_walk(cmd, click.Context(cmd, parent=ctx), f"{prefix} {name}"))
    return out


def test_every_command_has_help_text() -> None:
    ctx = click.Context(cli)
    commands = _walk(cli, ctx, "mlmeta")
    names = {n for n, _ in commands}
    for required in ("init", "add", "validate", "query", "queries", "sparql", "export", "stats",
                     "demo", "crawl"):
        assert f"mlmeta {required}" in names
    missing = [n for n, c in commands if not (c.help or c.short_help)]
    assert not missing, f"commands without help text: {missing}"
    for name, _ in commands:
        code, out, _ = run(*name.split()[1:], "--help")
        assert code == 0 and "Usage:" in out, name


def test_add_and_query_round_trip(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    code, _, err = run("--store", s, "add", str(EXAMPLES / "jetson.json"),
                       str(EXAMPLES / "my-classifier.yaml"))
    assert code == 0, err
    assert "stored 3 records" in err
    code, out, _ = run("--store", s, "sparql", "--format", "json",
                       "PREFIX mlm: <https://w3id.org/mlmeta#> SELECT ?n WHERE "
                       "{ ?m mlm:sourceId ?n ; mlm:trainedOn ?d }")
    assert code == 0
    doc = json.loads(out)
    assert doc["head"]["vars"] == ["n"]
    assert [b["n"]["value"] for b in doc["results"]["bindings"]] == ["acme/resnet50-birds"]


def test_add_rejects_with_every_violation_and_exit_1(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    code, _, err = run("--store", s, "add", str(DATA / "invalid-shapes.yaml"))
    assert code == 1
    assert "huggingface:not a valid/hf id!!" in err
    assert "evaluations[0].batchSize" in err and "parameterCount" in err
    assert "field 'sourceId'" in err
    assert "prediction:p1" in err and "confidence" in err
    assert "invalid-shapes.yaml" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name,needle", [
    ("invalid-types.yaml", "expected a whole number, got 'lots'"),
    ("invalid-types.yaml", "unknown field 'colour'"),
    ("invalid-broken.yaml", "malformed YAML"),
    ("invalid-broken.json", "malformed JSON"),
])
def test_malformed_files_get_clear_errors(tmp_path: Path, name: str, needle: str) -> None:
    code, _, err = run("--store", str(tmp_path / "s"), "add", str(DATA / name))
    assert code == 1
    assert needle in err and name in err
    assert "Traceback" not in err


def test_validate_does_not_store(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    code, _, err = run("validate", str(EXAMPLES / "my-classifier.yaml"))
    assert code == 0 and "3 record(s) conform" in err
    code, _, err = run("validate", str(DATA / "invalid-shapes.yaml"))
    assert code == 1 and "2 do not" in err
    code, _, err = run("--store", s, "stats", "--format", "csv")
    assert code == 1 and "there is no store" in err and "mlmeta init" in err  # nothing stored


def test_sparql_from_stdin_and_file(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    run("--store", s, "add", str(EXAMPLES / "jetson.json"))
    q = ("PREFIX mlm: <https://w3id.org/mlmeta#> "
         "SELECT ?d WHERE { ?h mlm:deviceName ?d } ORDER BY ?d")
    code, out, _ = run("--store", s, "sparql", "-", "--format", "csv", input=q)
    assert code == 0 and "Jetson Nano" in out
    f = tmp_path / "q.rq"
    f.write_text(q)
    code, out2, _ = run("--store", s, "sparql", "--file", str(f), "--format", "csv")
    assert code == 0 and out2 == out
    code, out3, _ = run("--store", s, "sparql", "--format", "tsv", q)
    assert code == 0 and out3.splitlines()[0] == "?d"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    assert run("--store", s, "sparql")[0] == 2
    assert run("--store", s, "export", "--format", "xml")[0] == 2
    assert run("--store", s, "nonsense")[0] == 2
    assert run("--store", s, "query", "no-such-query")[0] == 2


def test_bad_sparql_is_one_line_exit_1(tmp_path: Path) -> None:
    assert run("--store", str(tmp_path / "s"), "init")[0] == 0
    code, _, err = run("--store", str(tmp_path / "s"), "sparql", "SELECT WHERE {")
    assert code == 1
    assert "not valid SPARQL" in err and "Traceback" not in err


@pytest.mark.parametrize("fmt,needle", [("nq", "<https://w3id.org/mlmeta/id/graph/"),
                                        ("trig", "GRAPH"), ("ttl", "@prefix"),
                                        ("jsonld", "@id")])
def test_export_formats(tmp_path: Path, fmt: str, needle: str) -> None:
    s = str(tmp_path / "store")
    run("--store", s, "add", str(EXAMPLES / "jetson.json"))
    out_file = tmp_path / f"out.{fmt}"
    code, _, err = run("--store", s, "export", "--format", fmt, "--output", str(out_file))
    assert code == 0, err
    text = out_file.read_text()
    assert "Jetson Nano" in text
    if fmt != "trig":
        assert needle in text
    code, out, _ = run("--store", s, "export", "--format", fmt)
    assert code == 0 and "Jetson Nano" in out


def test_store_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = tmp_path / "envstore"
    monkeypatch.setenv("MLMETA_STORE", str(s))
    code, _, _ = run("add", str(EXAMPLES / "jetson.json"))
    assert code == 0 and s.is_dir()


def test_default_store_is_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    code, _, err = run("init")
    assert code == 0
    assert (tmp_path / "xdg" / "mlmeta" / "store").is_dir()


def test_debug_shows_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run("--store", str(blocker / "s"), "init")
    assert code == 1 and "Traceback" not in err and "cannot open the store" in err
    result = CliRunner().invoke(cli, ["--debug", "--store", str(blocker / "s"), "init"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "mlmeta" in out

