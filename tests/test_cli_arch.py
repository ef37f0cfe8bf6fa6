"""`nas arch`: sample, describe, export, import, distance and one-line errors."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from nas.cli.main import main
from search_spaces.features import FEATURE_NAMES, graph_features
from search_spaces.genome import Genome, architecture_key


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def genome_file(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(Genome("watts_strogatz", {"k": 4, "p": 0.3}, nodes=16, seed=2, family="ff").to_json())
    return path


def test_sample_prints_a_valid_genome_and_is_seeded(capsys):
    status, out, _ = run(capsys, "arch", "sample", "--prior", "holme_kim", "--param", "m=2", "--nodes", "20",
                         "--seed", "5", "--family", "rnn:gru")  # fmt: skip
    assert status == 0
    genome = Genome.from_json(out)
    assert (genome.prior, genome.nodes, genome.seed, genome.family) == ("holme_kim", 20, 5, "rnn:gru")
    assert genome.param_dict["m"] == 2 and 0 <= genome.param_dict["p"] <= 1
    _, again, _ = run(capsys, "arch", "sample", "--prior", "holme_kim", "--param", "m=2", "--nodes", "20",
                      "--seed", "5", "--family", "rnn:gru")  # fmt: skip
    assert again == out
    _, other, _ = run(capsys, "arch", "sample", "--prior", "holme_kim", "--nodes", "20", "--seed", "6")
    assert Genome.from_json(other).param_dict != genome.param_dict


def test_sample_width_readout_and_weight_target(capsys):
    _, out, _ = run(capsys, "arch", "sample", "--prior", "watts_strogatz", "--nodes", "30", "--seed", "1")
    ff = Genome.from_json(out)
    assert (ff.width, ff.readout) == (16, "sinks")  # the product's default MLP
    _, out, _ = run(capsys, "arch", "sample", "--prior", "watts_strogatz", "--nodes", "30", "--seed", "1", "--family", "cnn")
    assert Genome.from_json(out).width == 1
    _, out, _ = run(capsys, "arch", "sample", "--prior", "watts_strogatz", "--nodes", "30", "--seed", "1",
                    "--width", "1", "--readout", "last")  # fmt: skip
    assert Genome.from_json(out) == ff.replace(width=1, readout="last")  # the paper's network, same graph
    # written out even at the paper's values: only genomes stored before they existed lack them
    assert {"width": 1, "readout": "last"}.items() <= json.loads(out).items()
    from nas.training.equal_cost import ff_nonzero_weights

    _, out, _ = run(capsys, "arch", "sample", "--prior", "watts_strogatz", "--nodes", "30", "--seed", "1", "--weight-target", "200000")
    fitted = Genome.from_json(out)
    counts = {w: abs(ff_nonzero_weights(fitted.replace(width=w), 784, 10) - 200000) for w in range(1, 40)}
    assert counts[fitted.width] == min(counts.values())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--prior", "nope", "--nodes", "10"], "unknown prior 'nope'"),
        (["--prior", "watts_strogatz", "--param", "k=30", "--nodes", "40"], "params.k"),
        (["--prior", "watts_strogatz", "--param", "k=four", "--nodes", "40"], "params.k"),
        (["--prior", "watts_strogatz", "--param", "q=1", "--nodes", "40"], "a parameter of 'watts_strogatz'"),
        (["--prior", "watts_strogatz", "--param", "k", "--nodes", "40"], "NAME=VALUE"),
        (["--prior", "random_regular", "--param", "d=3", "--nodes", "9"], "d * nodes even"),
        (["--prior", "erdos_renyi", "--param", "p=0.01", "--nodes", "4", "--seed", "1"], "no edges"),
        (["--prior", "erdos_renyi", "--nodes", "1"], "Genome.nodes = 1; expected"),
        (["--prior", "erdos_renyi", "--nodes", "10", "--width", "0"], "Genome.width = 0; expected an integer in [1, 256]"),
        (["--prior", "erdos_renyi", "--nodes", "10", "--weight-target", "0"], "--weight-target must be a positive integer"),
        (["--prior", "erdos_renyi", "--nodes", "10", "--weight-target", "9", "--family", "cnn"], "family 'ff' only"),
    ],
)
def test_sample_errors_are_one_line_exit_1(capsys, argv, message):
    status, out, err = run(capsys, "arch", "sample", *argv)
    assert status == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_describe_prints_features_and_widths(capsys, genome_file):
    status, out, _ = run(capsys, "arch", "describe", str(genome_file))
    assert status == 0
    data = json.loads(out)
    assert list(data["features"]) == list(FEATURE_NAMES)
    dag = Genome.from_json(genome_file.read_text()).dag()
    assert data["layer_sizes"] == list(dag.layer_sizes)
    assert data["features"]["nodes"] == 16.0
    assert data["wl_hash"] == dag.wl_hash()
    assert data["architecture"] == architecture_key(Genome.from_json(genome_file.read_text()))


@pytest.mark.parametrize("fmt", ["graphml", "edgelist", "json"])
def test_export_then_import_round_trips_the_dag(capsys, genome_file, tmp_path, fmt):
    out_file = tmp_path / f"graph.{fmt}"
    status, _, _ = run(capsys, "arch", "export", str(genome_file), "--format", fmt, "--out", str(out_file))
    assert status == 0 and out_file.stat().st_size > 0
    status, out, _ = run(capsys, "arch", "import", str(out_file), "--format", fmt, "--family", "cnn")
    assert status == 0
    imported = Genome.from_json(out)
    assert imported.prior == "explicit" and imported.family == "cnn"
    assert imported.dag() == Genome.from_json(genome_file.read_text()).dag()


def test_export_png_is_a_png(capsys, genome_file, tmp_path):
    out_file = tmp_path / "g.png"
    status, _, _ = run(capsys, "arch", "export", str(genome_file), "--out", str(out_file))
    assert status == 0
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_relabels_in_sorted_order(capsys, tmp_path):
    path = tmp_path / "mine.edgelist"
    path.write_text("# my graph\nn10 n2\nn2 n1\nn1 n1\n")
    status, out, _ = run(capsys, "arch", "import", str(path), "--out", str(tmp_path / "g.json"))
    assert status == 0
    genome = Genome.from_json(out)
    assert genome.nodes == 3 and genome.edits == (("add", 0, 1), ("add", 1, 2))  # n1 < n2 < n10, loop dropped
    assert Genome.from_json((tmp_path / "g.json").read_text()) == genome


def test_import_takes_the_width_and_readout_the_graphs_were_built_with(capsys, tmp_path):
    """--readout last imports the paper's networks as such: the as-built features see it (a sink
    below the last layer reaches no output), and --width / --readout reach every genome of --jsonl."""
    path = tmp_path / "fork.edgelist"
    path.write_text("0 1\n1 2\n0 3\n")
    features = {}
    for readout in ("sinks", "last"):
        status, out, _ = run(capsys, "arch", "import", str(path), "--width", "4", "--readout", readout)
        genome = Genome.from_json(out)
        assert status == 0 and (genome.width, genome.readout) == (4, readout)
        features[readout] = graph_features(genome)["reachable_share"]
    assert features == {"sinks": 1.0, "last": 0.75}
    other = tmp_path / "edge.edgelist"
    other.write_text("0 1\n")
    jsonl = tmp_path / "all.jsonl"
    status, _, _ = run(capsys, "arch", "import", str(path), str(other), "--jsonl", str(jsonl), "--readout", "last")
    genomes = [Genome.from_dict(json.loads(line)["genome"]) for line in jsonl.read_text().splitlines()]
    assert status == 0 and [(g.width, g.readout) for g in genomes] == [(1, "last"), (1, "last")]
    for bad in (["--width", "0"], ["--width", "999"], ["--readout", "first"]):
        out = tmp_path / "bad.json"
        status, _, err = run(capsys, "arch", "import", str(path), "--out", str(out), *bad)
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
        assert status != 0 and len(lines) == 1 and not out.exists(), (bad, err)  # click's usage lines aside


def test_import_errors(capsys, tmp_path):
    empty = tmp_path / "empty.edgelist"
    empty.write_text("a a\n")
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><graph")
    for argv, message in [
        ([str(empty)], "no edges"),
        ([str(bad)], "cannot read"),
        ([str(tmp_path / "missing.json")], "does not exist"),
        ([str(tmp_path / "graph.dot")], "cannot tell the format"),
    ]:
        status, _, err = run(capsys, "arch", "import", *argv)
        assert status == 1 and message in err and err.count("\n") == 1


def test_import_directed_dag_keeps_edge_directions(tmp_path, capsys):
    g = nx.DiGraph([("c", "a"), ("a", "b")])  # topological order c, a, b
    path = tmp_path / "dag.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="links")))
    status, out, _ = run(capsys, "arch", "import", str(path))
    assert status == 0
    assert Genome.from_json(out).edits == (("add", 0, 1), ("add", 1, 2))


def test_describe_bad_genome_file(capsys, tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{"prior": "erdos_renyi", "params": {"p": 7}}')
    status, _, err = run(capsys, "arch", "describe", str(path))
    assert status == 1 and "params.p" in err
    status, _, err = run(capsys, "arch", "describe", str(tmp_path / "none.json"))
    assert status == 1 and "cannot read genome file" in err


def test_distance_of_built_networks(capsys, genome_file, tmp_path):
    pytest.importorskip("torch")
    status, out, _ = run(capsys, "arch", "distance", str(genome_file), str(genome_file))
    assert status == 0
    data = json.loads(out)
    assert data["nnstd"] == 0.0 and data["layers"] == len(data["layer_distances"]) > 0
    other = tmp_path / "other.json"
    other.write_text(Genome("erdos_renyi", {"p": 0.5}, nodes=9, seed=0).to_json())
    status, _, err = run(capsys, "arch", "distance", str(genome_file), str(other))
    assert status == 1 and ("layers" in err or "shapes differ" in err)


def test_priors_listing(capsys):
    status, out, _ = run(capsys, "arch", "priors")
    data = json.loads(out)
    assert status == 0 and data["watts_strogatz"]["params"]["k"]["kind"] == "int"


@pytest.mark.parametrize("content", [b"\xff\xfe", b'{"nodes":[0,1],"links":[{"source":0,"target":1}]}'])
def test_undecodable_or_hand_written_files_are_one_line_errors(tmp_path, capsys, content):
    path = tmp_path / "g.json"
    path.write_bytes(content)
    command = ["arch", "describe", str(path)] if content.startswith(b"\xff") else ["arch", "import", str(path), "--format", "json"]
    assert main(command) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
