"""NNSTD (Liu et al. 2020): identities, permutation invariance, symmetry, typed shape errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from search_spaces.distance import jaccard_distances, layer_distances, nnstd
from search_spaces.exceptions import SearchSpaceError, ShapeMismatchError


def random_net(rng, widths=(8, 6, 5, 3), density=0.4):
    return [(rng.random((widths[i + 1], widths[i])) < density).astype(np.float32) for i in range(len(widths) - 1)]


def permute_hidden(net, rng):
    """The same network with every hidden layer's neurons shuffled (inputs and outputs fixed)."""
    out = [m.copy() for m in net]
    for layer in range(len(out) - 1):
        perm = rng.permutation(out[layer].shape[0])
        out[layer] = out[layer][perm]
        out[layer + 1] = out[layer + 1][:, perm]
    return out


def test_jaccard_matrix_by_hand():
    a = np.array([[1, 1, 0], [0, 0, 0]])
    b = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    d = jaccard_distances(a, b)
    np.testing.assert_allclose(d, [[0.5, 1.0, 1.0], [1.0, 0.0, 1.0]])


def test_identity_and_disjoint():
    rng = np.random.default_rng(0)
    net = random_net(rng)
    assert nnstd(net, net) == 0.0
    ones = [np.ones((4, 3)), np.ones((2, 4))]
    assert nnstd([np.eye(3)[:, :3]], [1 - np.eye(3)]) == 0.5
    a = [np.array([[1, 0, 0, 0], [0, 1, 0, 0]])]
    b = [np.array([[0, 0, 1, 0], [0, 0, 0, 1]])]
    assert nnstd(a, b) == 1.0
    assert nnstd(ones, ones) == 0.0
    empty = [np.zeros((4, 3)), np.zeros((2, 4))]
    assert nnstd(empty, empty) == 0.0  # both input sets empty: distance 0
    assert nnstd(empty, ones) == 1.0


def _distinct_rows(net):
    return all(len({row.tobytes() for row in m}) == m.shape[0] for m in net)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_permuted_copy_is_zero_and_distance_is_symmetric(seed):
    rng = np.random.default_rng(seed)
    a = random_net(rng, density=0.5)
    assume(_distinct_rows(a))  # no ties: the zero-cost matching is unique in every layer
    assert nnstd(a, permute_hidden(a, rng)) == 0.0
    assert nnstd(a, a) == 0.0
    b = random_net(rng)
    d = nnstd(a, b)
    assert 0.0 <= d <= 1.0
    # Symmetric up to ties in the matching: the first layer's matched cost is exactly symmetric.
    assert layer_distances(a, b)[0] == pytest.approx(layer_distances(b, a)[0])


@pytest.mark.parametrize(
    "net",
    [
        # Two hidden neurons with empty inputs that feed different outputs.
        [np.array([[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]]),
         np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]])],
        # Two equal-input pairs in layer 0 whose pairing only layer 1 reveals.
        [np.array([[0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 1, 0]]),
         np.array([[1, 1, 0, 0, 0], [0, 0, 0, 1, 1], [0, 0, 1, 0, 0]]),
         np.array([[1, 0, 0], [0, 1, 0]])],
    ],
)
def test_permuted_copy_with_duplicate_neurons_is_zero(net):
    rng = np.random.default_rng(0)
    assert nnstd(net, net) == 0.0
    for _ in range(20):
        assert nnstd(net, permute_hidden(net, rng)) == 0.0


def test_symmetric_without_ties():
    # Distinct input sets: the matching is unique, so NNSTD is exactly symmetric.
    a = [np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]]), np.array([[1, 0, 0], [0, 1, 1]])]
    b = [np.array([[0, 1, 1], [0, 0, 1], [1, 0, 1]]), np.array([[0, 1, 0], [1, 0, 1]])]
    assert nnstd(a, b) == pytest.approx(nnstd(b, a))


def test_matching_is_propagated_to_the_next_layer():
    # Hidden neurons swapped in b; without propagating the matching layer 2 would look different.
    a = [np.array([[1, 0], [0, 1]]), np.array([[1, 0]])]
    b = [np.array([[0, 1], [1, 0]]), np.array([[0, 1]])]
    assert nnstd(a, b) == 0.0
    assert layer_distances(a, b, chained=False) == [0.0, 1.0]


def test_accepts_tensor_like_objects_without_torch():
    class FakeTensor:
        def __init__(self, array):
            self.array = array

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

    net = random_net(np.random.default_rng(1))
    assert nnstd([FakeTensor(m) for m in net], net) == 0.0


def test_shape_mismatch_names_layer_and_shapes():
    a = [np.ones((4, 3)), np.ones((2, 4))]
    b = [np.ones((4, 3)), np.ones((3, 4))]
    with pytest.raises(ShapeMismatchError, match=r"layer 1: .*\(2, 4\).*\(3, 4\)"):
        nnstd(a, b)
    with pytest.raises(ShapeMismatchError, match="2 and 1 layers"):
        nnstd(a, a[:1])
    with pytest.raises(ShapeMismatchError, match="inputs"):
        nnstd([np.ones((4, 3)), np.ones((2, 5))], [np.ones((4, 3)), np.ones((2, 5))])
    with pytest.raises(ShapeMismatchError, match="2-D"):
        nnstd([np.ones(3)], [np.ones(3)])
    with pytest.raises(SearchSpaceError, match="at least one layer"):
        nnstd([], [])
