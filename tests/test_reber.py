"""Reber grammar generation, corruptions, datasets and CSV.

Every check of grammar membership uses acceptors written here, independently of the library: a
regular expression equivalent to the Reber automaton (derived by hand from the state diagram),
and a next-symbol oracle that asks the regular expression whether a prefix can be completed.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nas.datasets import reber
from nas.exceptions import ConfigError, DataError

# --- the test's own grammar --------------------------------------------------------------------
# From state 4 the walk either leaves with S, or cycles X T* V P back to 4, or ends X T* V V.
_FROM4 = r"(?:XT*VP)*(?:S|XT*VV)"
_INNER = rf"(?:TS*X{_FROM4}|PT*V(?:V|P{_FROM4}))"
REBER_RE = re.compile(rf"B{_INNER}E")
EMBEDDED_RE = re.compile(rf"B(?:TB{_INNER}ET|PB{_INNER}EP)E")
ALPHABET = "BTPSXVE"
INNER = "TPSXV"
FOREIGN = set(reber.FOREIGN_LETTERS)


def regex_reber(s: str) -> bool:
    return REBER_RE.fullmatch(s) is not None


def regex_embedded(s: str) -> bool:
    return EMBEDDED_RE.fullmatch(s) is not None


# Completions that can finish any viable prefix that already holds the first B: at most three inner
# symbols finish the inner walk from any state (e.g. state 1: T X S), then E (and for embedded the
# branch symbol and E). Too short a list could only make the oracle's sets *smaller* than the truth,
# i.e. make the tests fail, never pass wrongly.
_SHORT = ["".join(p) for k in range(4) for p in itertools.product(INNER, repeat=k)]
PLAIN_COMPLETIONS = [""] + [w + "E" for w in _SHORT]
EMBEDDED_COMPLETIONS = ["", "E", "TE", "PE"] + [w + "E" + b + "E" for w in _SHORT for b in "TP"] + \
    [w + "E" + b + "E" for w in ("BTXS", "BPVV") for b in "TP"]


def oracle_next(prefix: str, embedded: bool) -> set[str]:
    """Legal next symbols by asking the regex whether ``prefix + c`` can be completed."""
    accept, completions = (regex_embedded, EMBEDDED_COMPLETIONS) if embedded else (regex_reber, PLAIN_COMPLETIONS)
    if prefix == "":
        return {"B"}
    if embedded and prefix == "B":
        return {"T", "P"}
    if embedded and len(prefix) == 2:
        return {"B"}
    return {c for c in ALPHABET + "".join(FOREIGN) if any(accept(prefix + c + w) for w in completions)}


# --- the automaton -----------------------------------------------------------------------------
def test_acceptor_matches_regex_on_every_short_string():
    # all strings over alphabet + one foreign letter up to length 5, and every B<inner^k>E, k <= 7
    pool = {"".join(p) for k in range(6) for p in itertools.product(ALPHABET + "A", repeat=k)}
    pool |= {"B" + "".join(p) + "E" for k in range(8) for p in itertools.product(INNER, repeat=k)}
    for s in pool:
        assert reber.is_reber(s) == regex_reber(s), s
    valid = Counter(len(s) for s in pool if regex_reber(s) and s.startswith("B") and len(s) <= 9)
    assert {L: reber.count_reber_strings(L) for L in range(5, 10)} == dict(valid)
    assert reber.count_reber_strings(4) == 0


def test_embedded_acceptor_matches_regex():
    rng = np.random.default_rng(3)
    inner = reber.sample_reber(rng, 300, min_length=5, max_length=20)
    pool = []
    for s in inner:
        for a, b in itertools.product("TPSX", repeat=2):
            pool.append(f"B{a}{s}{b}E")
        pool += [f"BT{s}T", f"T{s}TE", f"BT{s[:-1]}TE", f"BT{s}TEE", f"BT{s}{s}TE"]
    assert sum(map(regex_embedded, pool)) >= 600  # both branches of every inner string are valid
    for s in pool:
        assert reber.is_embedded_reber(s) == regex_embedded(s), s


@settings(max_examples=300, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), edits=st.lists(st.tuples(st.integers(0, 60), st.sampled_from(ALPHABET + "A")),
                                                       max_size=3))
def test_acceptors_match_regex_on_edited_long_strings(seed, edits):
    rng = np.random.default_rng(seed)
    s = reber.generate_embedded_reber(rng, 9, 60)
    for pos, c in edits:  # overwrite a few positions: often invalid, sometimes still valid
        pos %= len(s)
        s = s[:pos] + c + s[pos + 1:]
    assert reber.is_embedded_reber(s) == regex_embedded(s)
    assert reber.is_reber(s[2:-2]) == regex_reber(s[2:-2])


@pytest.mark.parametrize("embedded", [False, True])
def test_next_symbols_match_oracle_on_every_prefix(embedded):
    rng = np.random.default_rng(11)
    make = reber.generate_embedded_reber if embedded else reber.generate_reber
    strings = [make(rng, 9, 24) for _ in range(25)]
    for s in strings:
        for t in range(len(s) + 1):
            assert reber.next_symbols(s[:t], embedded=embedded) == oracle_next(s[:t], embedded), (s, t)


def test_next_symbols_rejects_non_prefixes_and_non_strings():
    with pytest.raises(reber.GrammarError, match="position 2"):
        reber.next_symbols("BTT")
    with pytest.raises(DataError):
        reber.next_symbols("BTBTXSEPE", embedded=True)
    with pytest.raises(ConfigError, match="expected a str"):
        reber.is_reber(None)
    assert reber.next_symbols("BTXSE") == frozenset()


# --- generators --------------------------------------------------------------------------------
def test_generators_give_valid_strings_in_range_and_are_seeded():
    rng = np.random.default_rng(0)
    plain = [reber.generate_reber(rng, 11, 53) for _ in range(200)]
    emb = [reber.generate_embedded_reber(rng, 9, 30) for _ in range(200)]
    assert all(regex_reber(s) and 11 <= len(s) <= 53 for s in plain)
    assert all(regex_embedded(s) and 9 <= len(s) <= 30 for s in emb)
    assert {s[1] for s in emb} == {"T", "P"}
    again = np.random.default_rng(0)
    assert plain == [reber.generate_reber(again, 11, 53) for _ in range(200)]
    assert reber.sample_reber(np.random.default_rng(1), 50) != reber.sample_reber(np.random.default_rng(2), 50)


def test_sample_distinct_spreads_lengths_and_fills_small_ranges_exactly():
    rng = np.random.default_rng(5)
    out = reber.sample_distinct_reber(rng, 3000, min_length=11, max_length=40)
    assert len(set(out)) == 3000 and all(map(regex_reber, out))
    per_length = Counter(map(len, out))
    assert per_length[11] == reber.count_reber_strings(11)  # a short length gives all it has
    assert max(per_length.values()) - min(per_length[L] for L in range(20, 41)) <= 1  # even elsewhere
    # a range holding exactly as many strings as asked gives all of them
    every = reber.sample_distinct_reber(rng, 16, min_length=5, max_length=8)
    assert sorted(map(len, every)) == sorted([5] * 2 + [6] * 3 + [7] * 4 + [8] * 7)
    assert all(map(regex_reber, every)) and len(set(every)) == 16


@pytest.mark.parametrize("kind", reber.CORRUPTION_KINDS)
def test_each_corruption_is_invalid_and_is_the_edit_it_claims(kind):
    rng = np.random.default_rng(7)
    for s in reber.sample_reber(rng, 150, min_length=6, max_length=30):
        out = reber.corrupt(rng, s, kind)
        assert not regex_reber(out), (s, out)
        assert out[0] == "B" and out[-1] == "E"
        if kind in ("substitution", "foreign"):
            diff = [i for i in range(len(s)) if s[i] != out[i]]
            assert len(out) == len(s) and len(diff) == 1
            assert (out[diff[0]] in FOREIGN) == (kind == "foreign")
            assert kind == "foreign" or out[diff[0]] in INNER
        elif kind == "insertion":
            assert len(out) == len(s) + 1 and any(out[:i] + out[i + 1:] == s for i in range(len(out)))
        elif kind == "deletion":
            assert len(out) == len(s) - 1 and any(s[:i] + s[i + 1:] == out for i in range(len(s)))
        else:
            diff = [i for i in range(len(s)) if s[i] != out[i]]
            assert len(out) == len(s) and len(diff) == 2 and diff[1] == diff[0] + 1
            assert (out[diff[0]], out[diff[1]]) == (s[diff[1]], s[diff[0]])
        if kind != "foreign":
            assert set(out) <= set(ALPHABET)


def test_corrupt_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(reber.GrammarError, match="valid Reber string"):
        reber.corrupt(rng, "BTXE", "deletion")
    with pytest.raises(ConfigError, match="unknown corruption kind 'typo'"):
        reber.corrupt(rng, "BTXSE", "typo")
    with pytest.raises(ConfigError, match="numpy.random.Generator"):
        reber.generate_reber(0)


# --- classification dataset --------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_frame():
    return reber.reber_classification_frame()  # the defaults: 25,000 strings, lengths 11..53


@pytest.fixture(scope="module")
def small():
    kwargs = dict(seed=4, min_length=11, max_length=30)
    return kwargs, reber.reber_classification_frame(2000, **kwargs), reber.reber_classification_dataset(2000, **kwargs)


def decode(x: torch.Tensor, lengths: torch.Tensor, vocab, padding="end") -> list[str]:
    out = []
    for row, n in zip(x.tolist(), lengths.tolist()):
        row = row[:n] if padding == "end" else row[len(row) - n:]
        out.append("".join(vocab[i] for i in row))
    return out


def test_paper_sized_frame_is_balanced_distinct_and_labelled_correctly(paper_frame):
    f = paper_frame
    assert len(f) == 25000 and f["string"].is_unique
    assert (f["label"] == f["string"].map(regex_reber).astype(int)).all()
    split_sizes = f.groupby(["split", "label"]).size().unstack()
    assert (split_sizes[0] == split_sizes[1]).all()  # balanced in every split
    assert split_sizes.loc["test"].sum() == 6250  # the paper's 75/25
    kinds = f.loc[f["label"] == 0, "negative_kind"].value_counts()
    assert set(kinds.index) == set(reber.CORRUPTION_KINDS)
    assert kinds["foreign"] == 1250  # 10 % of 12,500
    assert max(kinds.drop("foreign")) - min(kinds.drop("foreign")) <= 1
    assert (f.loc[f["label"] == 1, "negative_kind"] == "none").all()
    hard = f[(f["label"] == 0) & (f["negative_kind"] != "foreign")]["string"]
    assert hard.map(lambda s: set(s) <= set(ALPHABET)).all()
    foreign = f[f["negative_kind"] == "foreign"]["string"]
    assert foreign.map(lambda s: bool(set(s) & FOREIGN)).all()
    lengths = f["string"].str.len()
    assert lengths.between(11, 53).all()
    # invalid strings copy the length histogram of the valid ones: length carries no label signal
    assert Counter(lengths[f["label"] == 1]) == Counter(lengths[f["label"] == 0])


def test_dataset_tensors_match_frame(small):
    kwargs, frame, data = small
    vocab = data.info["vocab"]
    assert vocab[0] == "<pad>" and vocab[1:8] == list(ALPHABET)
    assert data.num_classes == 2 and data.input_shape == (30,) and data.name == "reber"
    for name in ("train", "val", "test"):
        split = getattr(data, name)
        part = frame[frame["split"] == name]
        assert split.x.dtype == torch.int64 and split.y.dtype == torch.int64 and split.lengths.dtype == torch.int64
        assert split.x.shape == (len(part), 30)
        assert decode(split.x, split.lengths, vocab) == list(part["string"])
        assert split.y.tolist() == list(part["label"])
        assert int(split.y.sum()) * 2 == len(split)
        mask = torch.arange(30)[None, :] < split.lengths[:, None]
        assert (split.x[~mask] == 0).all() and (split.x[mask] > 0).all()
    splits = [set(frame.loc[frame["split"] == s, "string"]) for s in ("train", "val", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    info = data.info
    assert info["partial"] is False and info["test_examples"] == info["test_expected"] == len(data.test) == 500
    assert sum(info["negative_kinds"].values()) == 1000
    assert all(sum(info["negative_kinds_by_split"][s][k] for s in ("train", "val", "test")) == info["negative_kinds"][k]
               for k in reber.CORRUPTION_KINDS)
    json.dumps(info)


@pytest.mark.parametrize("encoding,padding", [("index", "start"), ("onehot", "end"), ("onehot", "start")])
def test_encoding_and_padding_variants_agree_with_index_end(small, encoding, padding):
    kwargs, _, base = small
    data = reber.reber_classification_dataset(2000, encoding=encoding, padding=padding, max_len=34, **kwargs)
    vocab = data.info["vocab"]
    V = len(vocab) - 1
    assert data.info["encoding"] == encoding and data.info["padding"] == padding
    x = data.test.x
    if encoding == "onehot":
        assert x.dtype == torch.float32 and x.shape[1:] == (34, V) and data.input_shape == (34, V)
        assert set(x.sum(-1).unique().tolist()) <= {0.0, 1.0}
        x = torch.where(x.sum(-1) > 0, x.argmax(-1) + 1, torch.zeros((), dtype=torch.int64))
    else:
        assert data.input_shape == (34,)
    assert decode(x, data.test.lengths, vocab, padding) == decode(base.test.x, base.test.lengths, vocab)
    if padding == "start":
        assert (x[:, -1] == vocab.index("E")).all()  # the last step is the last symbol


def test_same_seed_same_data_other_seed_other_data(small):
    kwargs, frame, data = small
    again = reber.reber_classification_dataset(2000, **kwargs)
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(data, name).x, getattr(again, name).x)
        assert torch.equal(getattr(data, name).y, getattr(again, name).y)
    other = reber.reber_classification_frame(2000, **{**kwargs, "seed": 5})
    assert set(other["string"]) != set(frame["string"])
    emb = reber.embedded_reber_dataset(300, seed=1)
    assert torch.equal(emb.train.x, reber.embedded_reber_dataset(300, seed=1).train.x)
    assert not torch.equal(emb.train.x, reber.embedded_reber_dataset(300, seed=2).train.x)


def test_hard_negative_share_controls_the_mix():
    f = reber.reber_classification_frame(400, seed=0, hard_negative_share=0.0, min_length=11, max_length=25)
    assert set(f.loc[f["label"] == 0, "negative_kind"]) == {"foreign"}
    f = reber.reber_classification_frame(400, seed=0, hard_negative_share=1.0, min_length=11, max_length=25)
    assert set(f.loc[f["label"] == 0, "negative_kind"]) == set(reber.HARD_NEGATIVE_KINDS)


def test_shortest_strings_get_no_insertion_negatives():
    f = reber.reber_classification_frame(40, seed=0, min_length=5, max_length=9, test_fraction=0.25, val_fraction=0)
    neg = f[f["label"] == 0]
    assert not ((neg["negative_kind"] == "insertion") & (neg["string"].str.len() == 5)).any()
    assert not neg["string"].map(regex_reber).any() and f["string"].is_unique


# --- embedded next-symbol dataset --------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded():
    return reber.embedded_reber_frame(600, seed=2), reber.embedded_reber_dataset(600, seed=2)


def test_embedded_dataset_inputs_targets_and_splits(embedded):
    frame, data = embedded
    vocab = data.info["vocab"]
    assert vocab == ["<pad>", *ALPHABET] and data.num_classes == 7 and data.input_shape == (31,)
    assert data.info["target"] == "next_symbol_set" and data.info["target_symbols"] == list(ALPHABET)
    assert frame["string"].is_unique and frame["string"].map(regex_embedded).all()
    assert frame["string"].str.len().between(9, 32).all()
    assert Counter(frame["string"].str[1]) == {"T": 300, "P": 300}
    assert len(data.train) + len(data.val) + len(data.test) == 600 and len(data.test) == 150
    for name in ("train", "test"):
        split, strings = getattr(data, name), list(frame.loc[frame["split"] == name, "string"])
        assert split.y.dtype == torch.float32 and split.y.shape == (len(strings), 31, 7)
        assert decode(split.x, split.lengths, vocab) == [s[:-1] for s in strings]
        steps = torch.arange(31)[None, :] < split.lengths[:, None]
        assert (split.y[~steps] == 0).all() and (split.y[steps].sum(-1) >= 1).all()
        # at every step the legal set contains the symbol that actually comes next
        for row, s in enumerate(strings[:60]):
            for t in range(len(s) - 1):
                assert split.y[row, t, vocab.index(s[t + 1]) - 1] == 1


def test_embedded_targets_match_the_test_oracle(embedded):
    frame, data = embedded
    vocab = data.info["vocab"]
    strings = list(frame.loc[frame["split"] == "test", "string"])[:30]
    for row, s in enumerate(strings):
        for t in range(len(s) - 1):
            legal = {vocab[j + 1] for j in torch.nonzero(data.test.y[row, t]).flatten().tolist()}
            assert legal == oracle_next(s[: t + 1], embedded=True), (s, t)
        # the long-range step: after the inner string only the branch symbol may come
        assert data.test.y[row, len(s) - 3].tolist() == [float(c == s[1]) for c in ALPHABET]


def test_embedded_start_padding_and_onehot_shift_targets_with_inputs(embedded):
    _, base = embedded
    data = reber.embedded_reber_dataset(600, seed=2, padding="start", encoding="onehot", max_len=40)
    assert data.test.x.shape == (150, 40, 7) and data.test.y.shape == (150, 40, 7)
    for row in range(20):
        n = int(data.test.lengths[row])
        assert torch.equal(data.test.y[row, 40 - n:], base.test.y[row, :n])
        assert torch.equal(data.test.x[row, 40 - n:].argmax(-1) + 1, base.test.x[row, :n])
        assert (data.test.x[row, : 40 - n] == 0).all()


# --- CSV ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,columns", [("classification", ["string", "label", "split", "negative_kind"]),
                                          ("embedded", ["string", "split"])])
def test_csv_round_trip(tmp_path, kind, columns):
    path = reber.write_reber_csv(tmp_path / "sub" / "reber.csv", n=300, seed=9, kind=kind)
    back = pd.read_csv(path, keep_default_na=False)
    assert list(back.columns) == columns
    make = reber.reber_classification_frame if kind == "classification" else reber.embedded_reber_frame
    pd.testing.assert_frame_equal(back, make(300, seed=9), check_dtype=False)
    accept = regex_reber if kind == "classification" else regex_embedded
    if kind == "classification":
        assert (back["label"] == back["string"].map(accept).astype(int)).all()
    else:
        assert back["string"].map(accept).all()
    assert [p.name for p in path.parent.iterdir()] == ["reber.csv"]  # no temporary file left


def test_csv_failure_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "reber.csv"
    path.write_text("old\n")
    with pytest.raises(ConfigError, match="reber.n = 301; expected an even number"):
        reber.write_reber_csv(path, n=301)
    with pytest.raises(ConfigError, match="bad option"):
        reber.write_reber_csv(path, n=300, colour="red")
    with pytest.raises(ConfigError, match=r"write_reber_csv\.kind = 'both'; expected one of \['classification', 'embedded'\]"):
        reber.write_reber_csv(path, kind="both")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["reber.csv"]


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(n=3), "reber.n = 3; expected an even number"),
    (dict(n=4), "too small"),
    (dict(n=0), "reber.n = 0; expected an integer >= 2"),
    (dict(n=100, min_length=30, max_length=20), "min_length <= max_length"),
    (dict(n=100, min_length=3), "reber.min_length = 3; expected an integer in [5, 113]"),
    (dict(n=100, max_length=500), "reber.max_length = 500; expected an integer in [5, 113]"),
    (dict(n=100, encoding="ascii"), "reber.encoding = 'ascii'; expected one of ['index', 'onehot']"),
    (dict(n=100, padding="left"), "reber.padding = 'left'; expected one of ['end', 'start']"),
    (dict(n=100, max_len=20), "max_len must be >= max_length=53"),
    (dict(n=100, test_fraction=1.0), "test_fraction"),
    (dict(n=100, val_fraction=-0.1), "val_fraction"),
    (dict(n=100, hard_negative_share=1.5), "hard_negative_share"),
    (dict(n=100, seed=-1), "seed"),
])
def test_classification_bad_input_raises_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        reber.reber_classification_dataset(**kwargs)


def test_too_narrow_length_range_raises_capacity_error():
    with pytest.raises(reber.GrammarCapacityError, match=r"only 9\b"):
        reber.reber_classification_dataset(40, min_length=5, max_length=7)
    with pytest.raises(reber.GrammarCapacityError, match="embedded Reber strings of length 9..10"):
        reber.embedded_reber_dataset(40, min_length=9, max_length=10)
    with pytest.raises(ConfigError, match="max_len must be >= max_length - 1 = 31"):
        reber.embedded_reber_dataset(40, max_len=10)
    with pytest.raises(ConfigError, match="not in the vocabulary"):
        reber.encode_strings(["BTZE"], reber.EMBEDDED_VOCAB)
