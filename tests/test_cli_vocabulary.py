"""One vocabulary: walk every ``nas`` command and check that a shared option is spelled, typed
and documented the same way wherever it appears (issue 25, item 2)."""

from __future__ import annotations

import click
import pytest

from nas.cli.main import cli as root
from nas.cli.main import main
from nas.cli.options import AliasedOption, CommaChoice
from nas.training.tasks import list_tasks


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(root)
    found: dict[str, click.Command] = {}

    def walk(command, path):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])
        else:
            found[" ".join(path)] = command

    walk(root, [])
    return found


COMMANDS = _commands()

#: Commands that train networks: each takes the training vocabulary.
TRAINING = {"train", "search", "prune", "priors evaluate", "priors calibrate", "bench search"}
#: Commands that cross-validate predictors (BLAS threads matter there).
CROSS_VALIDATING = {"predictor evaluate", "predictor fit", "priors report"}
#: Commands whose --out is rebuilt from what they read (a report of a finished run), not a
#: user's file: they need no --overwrite.
REBUILDS = {"priors report"}
#: Options over closed sets: each must list its values in --help.
CLOSED = ("--task", "--strategy", "--strategies", "--baseline", "--method", "--optimizer", "--schedule",
          "--precision", "--augment", "--model", "--scoring", "--features", "--family", "--readout", "--format",
          "--screening", "--cv", "--match", "--second-objective", "--on-empty", "--kind", "--layout")


def _options(command) -> dict[str, click.Option]:
    return {flag: p for p in command.params if isinstance(p, click.Option) for flag in (*p.opts, *p.secondary_opts)}


def _shown(command, flag) -> bool:
    option = _options(command)[flag]
    return not option.hidden and flag not in getattr(option, "old_spellings", ())


def _help(name: str) -> str:
    command = COMMANDS[name]
    return command.get_help(click.Context(command, info_name=f"nas {name}"))


def test_the_walk_finds_every_command():
    assert {"train", "search", "worker", "report", "prune", "bench search", "priors evaluate", "arch export",
            "predictor predict", "data fetch"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_overwrite_is_the_one_flag_that_replaces(name):
    options = _options(COMMANDS[name])
    if "--force" in options:  # an old spelling: accepted, never shown, the same option as --overwrite
        assert options["--force"] is options.get("--overwrite") and not _shown(COMMANDS[name], "--force")
    if "--overwrite" in options:
        assert options["--overwrite"].is_flag and options["--overwrite"].name == "overwrite"
    if "--out" in options and name not in REBUILDS:
        assert "--overwrite" in options, f"nas {name} writes --out but has no --overwrite"
    if "--out" in options:  # a file on some commands, a folder on others: --help says which
        assert options["--out"].metavar in ("FILE", "DIRECTORY"), f"nas {name} --out"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_threads_device_data_dir_progress_and_train_mean_one_thing(name):
    command = COMMANDS[name]
    options = _options(command)
    if name in TRAINING | CROSS_VALIDATING | {"worker"}:
        assert "--threads" in options, f"nas {name} has no --threads"
    if name in TRAINING | {"worker"}:
        assert {"--device", "--data-dir"} <= set(options), f"nas {name} lacks --device or --data-dir"
    if name in TRAINING:
        assert "--train" in options, f"nas {name} has no --train KEY=VALUE"
    if "--threads" in options:
        kind = options["--threads"].type
        assert isinstance(kind, click.IntRange) and kind.min == 1 and options["--threads"].metavar == "N"
    if "--data-dir" in options:
        assert options["--data-dir"].metavar == "DIRECTORY"
    if "--device" in options:
        assert options["--device"].metavar == "DEVICE"
    if "--train" in options:
        train = options["--train"]
        assert train.multiple and train.metavar == "KEY=VALUE"
    if "--no-progress" in options or "--progress" in options:
        progress = options.get("--progress")
        assert progress is not None and progress.secondary_opts == ["--no-progress"], \
            f"nas {name}: progress is --progress/--no-progress everywhere"
    for flag in ("--seed", "--seeds"):
        if flag in options:
            assert options[flag].type.name in ("integer", "integer range"), f"nas {name} {flag}"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_closed_sets_are_choices_listed_in_help(name):
    command = COMMANDS[name]
    options = _options(command)
    ctx = click.Context(command, info_name=f"nas {name}")
    for flag in CLOSED:
        if flag not in options or not _shown(command, flag):
            continue
        kind = options[flag].type
        assert isinstance(kind, (click.Choice, CommaChoice)), f"nas {name} {flag} is free text"
        record = " ".join(options[flag].get_help_record(ctx))
        assert all(str(choice) in record for choice in kind.choices), f"nas {name} {flag}: choices not in --help"
    if "--task" in options:
        assert list(options["--task"].type.choices) == list_tasks()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_reads_as_text(name):
    text = _help(name)
    assert "``" not in text, f"raw reStructuredText in nas {name} --help"
    assert "\x08" not in text


def test_group_help_lists_whole_sentences_and_names_every_sub_command():
    arch = root.get_command(click.Context(root), "arch")
    assert all(name in arch.help.lower() for name in ("sample", "describe", "export", "import", "join"))
    for group in ("arch", "priors", "predictor", "data", "bench"):
        command = root.get_command(click.Context(root), group)
        text = command.get_help(click.Context(command, info_name=f"nas {group}"))
        listing = text[text.index("Commands:"):]
        assert "..." not in listing, f"nas {group} --help cuts a sub-command's sentence"
        assert all(f"  {name} " in listing for name in command.list_commands(click.Context(command)))


def test_old_spellings_still_work_and_stay_hidden(tmp_path, capsys):
    assert isinstance(_options(COMMANDS["arch join"])["--force"], AliasedOption)
    assert "--force" not in _help("arch join") and "--force" not in _help("prune")
    genome = tmp_path / "g.json"
    assert main(["arch", "sample", "--prior", "erdos_renyi", "--nodes", "8"]) == 0
    genome.write_text(capsys.readouterr().out)
    out = tmp_path / "g.graphml"
    out.write_text("mine")
    assert main(["arch", "export", str(genome), "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "mine"  # not replaced
    assert main(["arch", "export", str(genome), "--out", str(out), "--force"]) == 0  # the old spelling
    assert out.read_text().startswith("<?xml")


def test_usage_errors_are_one_line(capsys):
    assert main(["search", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "nas search --help" in err
