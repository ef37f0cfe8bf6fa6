"""One word per meaning on the command line: the renamed options are listed under their new names,
and the old spellings still work, hidden, for one release (a value given both ways is one line)."""

from __future__ import annotations

import pytest

from nas.cli.main import main

# (command, new flag, old flag, a value)
RENAMED = [
    (["search"], "--ledger", "--study", "x"),
    (["search"], "--weight-target", "--budget", "1000"),
    (["worker"], "--ledger", "--study", "x"),
    (["worker"], "--share", "--batch", "2"),
    (["priors", "evaluate", "--out", "never-written"], "--cohort-size", "--batch", "4"),
    (["train"], "--genomes", "--population", "g.jsonl"),
    (["arch", "sample", "--prior", "erdos_renyi", "--nodes", "10"], "--weight-target", "--budget", "1000"),
]


@pytest.mark.parametrize("command, new, old, value", RENAMED, ids=[f"{' '.join(c[:2])} {o}" for c, _, o, _ in RENAMED])
def test_help_shows_the_new_name_only(capsys, command, new, old, value):
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert new in text and f"{old} " not in text and f"{old}\n" not in text


@pytest.mark.parametrize("command, new, old, value", RENAMED, ids=[f"{' '.join(c[:2])} {o}" for c, _, o, _ in RENAMED])
def test_both_spellings_at_once_is_one_line(capsys, tmp_path, monkeypatch, command, new, old, value):
    monkeypatch.chdir(tmp_path)
    assert main([*command, new, value, old, value]) == 1
    assert not any(tmp_path.iterdir())
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {old} is the old spelling of {new}; expected one of them, got both"]


def test_an_old_spelling_reaches_the_command_under_the_new_name(tmp_path, capsys):
    # the weight target sets the width, so the old spelling is seen to arrive
    args = ["arch", "sample", "--prior", "watts_strogatz", "--nodes", "30", "--seed", "1"]
    assert main([*args, "--weight-target", "200000"]) == 0
    new = capsys.readouterr().out
    assert main([*args, "--budget", "200000"]) == 0
    assert capsys.readouterr().out == new
    assert main(["worker", "--storage", f"sqlite:///{tmp_path / 'none.db'}", "--study", "x"]) == 1
    assert "ledger not found" in capsys.readouterr().err
