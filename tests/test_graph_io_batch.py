"""Many graphs at once: ``import_genomes``, the genome JSONL, ``nas arch import DIR`` and ``nas arch join``."""

from __future__ import annotations

import csv
import json

import networkx as nx
import numpy as np
import pytest

from nas.cli.main import main
from predictors import read_evaluations, read_genomes
from predictors.exceptions import EvaluationDataError
from search_spaces.exceptions import EmptyGraphError
from search_spaces.genome import Genome
from search_spaces.graph_files import (
    collect_graph_files,
    import_genomes,
    read_genomes_jsonl,
    write_genomes_jsonl,
)
from search_spaces.graph_io import GraphFormatError

# hand-made graphs on integer labels 0..n-1, so that the imported edits are the file's edges
EDGES = {
    "path": [(0, 1), (1, 2)],
    "star": [(0, 1), (0, 2), (0, 3)],
    "house": [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)],
}


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _edits(edges):
    return tuple(("add", min(u, v), max(u, v)) for u, v in sorted((min(e), max(e)) for e in edges))


@pytest.fixture
def graph_dir(tmp_path):
    """path.graphml, sub/star.edgelist, house.json, plus a note, a hidden file and an empty folder."""
    folder = tmp_path / "graphs"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty").mkdir()
    nx.write_graphml(nx.Graph(EDGES["path"]), folder / "path.graphml")
    (folder / "sub" / "star.edgelist").write_text("".join(f"{u} {v}\n" for u, v in EDGES["star"]))
    (folder / "house.json").write_text(json.dumps(nx.node_link_data(nx.Graph(EDGES["house"]), edges="edges")))
    (folder / "notes.md").write_text("not a graph\n")
    (folder / ".hidden.graphml").write_text("<broken")  # hidden: ignored, never parsed
    return folder


def test_import_genomes_ids_edges_and_skips(graph_dir):
    files, skipped = collect_graph_files([graph_dir])
    assert [i for i, _ in files] == ["house", "path", "sub/star"]
    assert [p.name for p in skipped] == ["notes.md"]
    records = import_genomes([graph_dir], family="rnn:gru")
    assert [i for i, _, _ in records] == ["house", "path", "sub/star"]
    for graph_id, genome, source in records:
        name = graph_id.split("/")[-1]
        assert genome.prior == "explicit" and genome.family == "rnn:gru"
        assert genome.edits == _edits(EDGES[name])
        assert sorted((min(e), max(e)) for e in genome.graph().edges) == sorted((min(e), max(e)) for e in EDGES[name])
        assert source.startswith(str(graph_dir)) and name in source


def test_named_files_take_their_stem_and_format_option_filters_directories(graph_dir, tmp_path):
    other = tmp_path / "mine.txt"
    other.write_text("a b\nb c\n")
    records = import_genomes([other, graph_dir / "path.graphml"])
    assert [(i, g.edits) for i, g, _ in records] == [("mine", _edits([(0, 1), (1, 2)])), ("path", _edits(EDGES["path"]))]
    files, skipped = collect_graph_files([graph_dir], fmt="json")
    assert [i for i, _ in files] == ["house"] and len(skipped) == 3
    # a named file is read in the given format whatever its suffix
    named = tmp_path / "g.data"
    named.write_text("0 1\n")
    assert import_genomes([named], fmt="edgelist")[0][1].edits == (("add", 0, 1),)


def test_jsonl_round_trip_and_predictors_read_it(graph_dir, tmp_path):
    records = import_genomes([graph_dir])
    out = write_genomes_jsonl(records, tmp_path / "g.jsonl")
    assert read_genomes_jsonl(out) == records
    first = json.loads(out.read_text().splitlines()[0])
    assert list(first) == ["id", "genome", "source"] and first["id"] == "house"
    assert read_genomes(out) == [g for _, g, _ in records]  # predictor predict --genomes reads it too
    with pytest.raises(GraphFormatError, match="exists"):
        write_genomes_jsonl(records[:1], out)
    write_genomes_jsonl(records[:1], out, force=True)
    assert read_genomes_jsonl(out) == records[:1]
    with pytest.raises(GraphFormatError, match="duplicate id 'house'"):
        write_genomes_jsonl(records[:1] * 2, tmp_path / "dup.jsonl")
    assert not (tmp_path / "dup.jsonl").exists()


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], "at least one genome record"),
        (['{"genome": {"prior": "explicit"}}'], "expected an object with 'id' and 'genome'"),
        (["{oops"], "line 1: expected a JSON object"),
        (['{"id": "a", "genome": {"prior": "nope"}}'], "line 1: invalid genome: unknown prior 'nope'"),
        (['{"id": "a", "genome": {"prior": "erdos_renyi", "params": {"p": 0.5}}}', "", '{"id": "a", "genome": {"prior": "erdos_renyi", "params": {"p": 0.5}}}'],
         "duplicate id 'a' on lines 1 and 3"),
    ],
)
def test_read_genomes_jsonl_errors(tmp_path, lines, message):
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(GraphFormatError, match=message):
        read_genomes_jsonl(path)


def test_cli_directory_to_jsonl(graph_dir, tmp_path, capsys):
    out = tmp_path / "out" / "genomes.jsonl"
    status, stdout, err = run(capsys, "arch", "import", str(graph_dir), "--family", "cnn", "--jsonl", str(out))
    assert status == 0, err
    assert json.loads(stdout) == {"written": str(out), "graphs": 3, "skipped": 1}
    assert "read 3 graphs; skipped 1 files" in err and err.count("\n") == 1
    records = read_genomes_jsonl(out)
    assert [(i, g.family, g.edits) for i, g, _ in records] == [
        ("house", "cnn", _edits(EDGES["house"])), ("path", "cnn", _edits(EDGES["path"])), ("sub/star", "cnn", _edits(EDGES["star"]))
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["genomes.jsonl"]  # no temporary file left
    status, _, err = run(capsys, "arch", "import", str(graph_dir), "--jsonl", str(out))
    assert status == 1 and "exists" in err and "--overwrite" in err
    status, _, err = run(capsys, "arch", "import", str(graph_dir / "path.graphml"), "--jsonl", str(out), "--force")
    assert status == 0 and [i for i, _, _ in read_genomes_jsonl(out)] == ["path"]


def test_cli_several_files_without_jsonl_print_lines(graph_dir, capsys):
    status, stdout, err = run(capsys, "arch", "import", str(graph_dir / "path.graphml"), str(graph_dir / "house.json"))
    assert status == 0, err
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [d["id"] for d in lines] == ["path", "house"]
    assert Genome.from_dict(lines[1]["genome"]).edits == _edits(EDGES["house"])
    status, _, err = run(capsys, "arch", "import", str(graph_dir), "--out", "x.json")
    assert status == 2 and "--jsonl" in err  # --out is for one genome: a usage error


def test_cli_one_file_still_prints_the_genome(graph_dir, capsys):
    status, stdout, err = run(capsys, "arch", "import", str(graph_dir / "sub" / "star.edgelist"))
    assert status == 0 and err == ""
    assert Genome.from_json(stdout).edits == _edits(EDGES["star"])


def test_all_or_nothing_on_a_broken_file(graph_dir, tmp_path, capsys):
    (graph_dir / "sub" / "zz_broken.graphml").write_text("<graphml><graph")
    out = tmp_path / "genomes.jsonl"
    status, stdout, err = run(capsys, "arch", "import", str(graph_dir), "--jsonl", str(out))
    assert status == 1 and stdout == ""
    assert "zz_broken.graphml" in err and err.startswith("error: ") and err.count("\n") == 1
    assert list(tmp_path.glob("*genomes*")) == []
    out.write_text("old\n")  # an existing output survives a failed --force run untouched
    status, _, _ = run(capsys, "arch", "import", str(graph_dir), "--jsonl", str(out), "--force")
    assert status == 1 and out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genomes.jsonl", "graphs"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(graph_dir, tmp_path, monkeypatch):
    import search_spaces.graph_files as graph_files

    out = tmp_path / "genomes.jsonl"
    out.write_text("old\n")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(graph_files.os, "replace", fail)
    with pytest.raises(GraphFormatError, match="cannot write .*No space left"):
        write_genomes_jsonl(import_genomes([graph_dir]), out, force=True)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genomes.jsonl", "graphs"]


def test_an_edgeless_graph_keeps_its_error_type_and_names_the_file(tmp_path):
    (tmp_path / "loop.edgelist").write_text("a a\n")
    (tmp_path / "ok.edgelist").write_text("a b\n")
    with pytest.raises(EmptyGraphError, match=r"loop\.edgelist: .*no edges"):
        import_genomes([tmp_path])


def test_import_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.md").write_text("hi\n")
    dup = tmp_path / "dup"
    dup.mkdir()
    nx.write_graphml(nx.Graph([(0, 1)]), dup / "g.graphml")
    (dup / "g.edgelist").write_text("0 1\n")
    undecodable = tmp_path / "bin.edgelist"
    undecodable.write_bytes(b"\xff\xfe\x00")
    good = tmp_path / "good.edgelist"
    good.write_text("0 1\n")
    for argv, message in [
        ([str(empty)], "is empty"),
        ([str(notes)], "holds no graph file (1 other files"),
        ([str(good), str(tmp_path / "missing")], "does not exist"),
        ([str(good), str(tmp_path / "graph.dot")], "does not exist"),
        ([str(dup)], f"duplicate id 'g': '{dup / 'g.edgelist'}' and '{dup / 'g.graphml'}'"),
        ([str(good), str(undecodable)], "bin.edgelist"),
    ]:
        status, out, err = run(capsys, "arch", "import", *argv, "--jsonl", str(tmp_path / "o.jsonl"))
        assert status == 1 and out == "" and err.count("\n") == 1, (argv, err)
        assert message in err, (argv, err)
    (tmp_path / "graph.dot").write_text("graph {}\n")
    status, _, err = run(capsys, "arch", "import", str(good), str(tmp_path / "graph.dot"))
    assert status == 1 and "cannot tell the format" in err and "graph.dot" in err
    assert not (tmp_path / "o.jsonl").exists()


# --- nas arch join -------------------------------------------------------------------------------


def _genomes(n):
    return [(f"g{i:02d}", Genome("watts_strogatz", {"k": 4, "p": 0.1 + 0.8 * (i % 5) / 4}, nodes=12 + i, seed=i), f"g{i:02d}.graphml")
            for i in range(n)]  # fmt: skip


def _write_metrics(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_join_then_predictor_evaluate(tmp_path, capsys):
    records = _genomes(33)
    jsonl = write_genomes_jsonl(records, tmp_path / "genomes.jsonl")
    rng = np.random.default_rng(0)
    # metrics for 30 of the 33 genomes, shuffled; accuracy grows with size (something to learn)
    order = rng.permutation(30)
    rows = [[f"{0.5 + 0.01 * records[i][1].nodes + 0.01 * rng.normal():.4f}", f"g{i:02d}", f"run-{i}"] for i in order]
    metrics = _write_metrics(tmp_path / "metrics.csv", ["accuracy", "arch", "note"], rows)
    out = tmp_path / "evaluations.csv"
    status, stdout, err = run(capsys, "arch", "join", str(jsonl), str(metrics), "--out", str(out), "--id-column", "arch")
    assert status == 0, err
    assert json.loads(stdout)["rows"] == 30 and json.loads(stdout)["columns"] == ["arch", "genome", "accuracy", "note"]
    assert "dropped 3 of 33 genomes without metrics: 'g30', 'g31', 'g32'" in err
    df = read_evaluations(out, target="accuracy")
    assert list(df.columns) == ["arch", "genome", "accuracy", "note"]
    by_id = {i: g for i, g, _ in records}
    assert list(df["arch"]) == [f"g{i:02d}" for i in order]  # the CSV's order
    assert all(Genome.from_json(text) == by_id[arch] for arch, text in zip(df["arch"], df["genome"]))
    assert list(df["note"]) == [f"run-{i}" for i in order]  # non-numeric columns kept as written
    status, stdout, err = run(capsys, "predictor", "evaluate", "--data", str(out), "--target", "accuracy", "--model", "bayes_ridge",
                              "--features", "size", "--folds", "3", "--repeats", "1", "--bootstrap", "0", "--no-plots", "--json")  # fmt: skip
    assert status == 0, err
    result = json.loads(stdout)
    assert result["n_architectures"] == 30 and result["metrics"]["r2"]["mean"] > 0.5
    status, _, err = run(capsys, "arch", "join", str(jsonl), str(metrics), "--out", str(out), "--id-column", "arch")
    assert status == 1 and "exists" in err
    status, _, err = run(capsys, "arch", "join", str(jsonl), str(metrics), "--out", str(out), "--id-column", "arch", "--force")
    assert status == 0


@pytest.mark.parametrize(
    "header, rows, extra, message",
    [
        (["name", "acc"], [["g00", "0.5"]], [], "id column 'id' not found; columns are ['name', 'acc']"),
        (["id", "acc"], [["g00", "0.5"], ["x1", "0.6"], ["x2", "0.7"]], [], "2 of 3 metric rows have no genome with that id: 'x1', 'x2'"),
        (["id", "acc"], [["g00", "0.5"], ["g01", "0.6"], ["g00", "0.7"]], [], "duplicate id 'g00' on lines 2 and 4"),
        (["id", "genome"], [["g00", "{}"]], [], "without a 'genome' column"),
        (["id", "acc"], [["g00", "0.5", "7"]], [], "line 2: expected 2 fields"),
        (["id", "acc"], [], [], "at least one row of metrics"),
        (["id", "acc"], [[" ", "0.5"]], [], "empty cell"),
    ],
)
def test_join_errors(tmp_path, capsys, header, rows, extra, message):
    jsonl = write_genomes_jsonl(_genomes(3), tmp_path / "genomes.jsonl")
    metrics = _write_metrics(tmp_path / "metrics.csv", header, rows)
    out = tmp_path / "evaluations.csv"
    status, stdout, err = run(capsys, "arch", "join", str(jsonl), str(metrics), "--out", str(out), *extra)
    assert status == 1 and stdout == "" and err.count("\n") == 1
    assert message in err, err
    assert not out.exists()


def test_join_needs_ids_in_the_genome_file(tmp_path, capsys):
    plain = tmp_path / "plain.jsonl"
    plain.write_text(Genome("erdos_renyi", {"p": 0.5}, nodes=5).to_json() + "\n")  # no id: cannot be joined
    metrics = _write_metrics(tmp_path / "m.csv", ["id", "acc"], [["a", "1"]])
    status, _, err = run(capsys, "arch", "join", str(plain), str(metrics), "--out", str(tmp_path / "e.csv"))
    assert status == 1 and "expected an object with 'id' and 'genome'" in err
    with pytest.raises(EvaluationDataError, match="does not exist"):
        from nas.cli.arch import join_metrics

        join_metrics(_genomes(1), tmp_path / "nope.csv")
