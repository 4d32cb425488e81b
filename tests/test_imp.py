"""Iterative magnitude pruning with rewinding (seed 001's loop; ramcore.torch.imp)."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import ramcore.torch as rt  # noqa: E402


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 4))


def data(seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 12, generator=gen)
    return x, (x[:, :4].argmax(1))


def trainer(steps=30, record_at=None, starts=None):
    """A real training loop: SGD with momentum, an optimizer per round; `record_at` calls the
    rewind point at that step; `starts` collects the weights each round starts from."""
    x, y = data()

    def train(model, rewind_point):
        if starts is not None:
            starts.append({k: v.clone() for k, v in model.state_dict().items()})
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(steps):
            if step == record_at:
                rewind_point()
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        with torch.no_grad():
            return float((model(x).argmax(1) == y).float().mean())

    return train


def test_rounds_prune_the_smallest_and_rewind_to_initialisation():
    model, starts = mlp(), []
    init = {k: v.clone() for k, v in model.state_dict().items()}
    res = rt.iterative_pruning(model, trainer(starts=starts), 3, fraction=0.5)
    assert [r.round for r in res.rounds] == [0, 1, 2]
    weights = ["0.weight", "2.weight"]
    for r in res.rounds:
        for name in weights:  # every layer keeps (1 - 0.5)^round of its weights, rounded per round
            assert int(r.masks[name].sum()) == {0: 1.0, 1: 0.5, 2: 0.25}[r.round] * r.masks[name].numel()
        assert 0 <= r.metrics <= 1 and len(r.layers) == 2
    for before, after in zip(res.rounds, res.rounds[1:]):
        for name in weights:  # nested masks
            assert not (after.masks[name] & ~before.masks[name]).any()
    for r, start in zip(res.rounds[1:], starts[1:]):  # rewound: the kept weights are the initial ones
        for name in weights:
            torch.testing.assert_close(start[name], init[name] * r.masks[name], rtol=0, atol=0)
    for name in weights:  # the ticket is applied to the model on return
        assert (model.state_dict()[name][~res.masks[name]] == 0).all()


def test_pruned_are_the_smallest_trained_magnitudes():
    model = mlp()
    trained = {}

    def train(m, rewind_point):
        result = trainer(steps=10)(m, rewind_point)
        trained.update({k: v.clone() for k, v in m.state_dict().items()})
        return result

    res = rt.iterative_pruning(model, train, 2, fraction=0.3)
    for name in ["0.weight", "2.weight"]:
        w = trained[name].abs().reshape(-1)
        keep = res.masks[name].reshape(-1)
        assert int((~keep).sum()) == round(0.3 * w.numel())
        assert w[~keep].max() <= w[keep].min()  # no kept weight is smaller than a pruned one


def test_rewind_to_iteration_k():
    model, starts, snap = mlp(), [], {}

    def train(m, rewind_point):
        out = trainer(steps=12, record_at=4, starts=starts)(m, lambda: (rewind_point(), snap.setdefault(
            "w", {k: v.clone() for k, v in m.state_dict().items()})))
        return out

    res = rt.iterative_pruning(model, train, 2, fraction=0.4)
    for name in ["0.weight", "2.weight"]:  # round 1 starts from the weights of step 4, masked
        torch.testing.assert_close(starts[1][name], snap["w"][name] * res.masks[name], rtol=0, atol=0)


def test_ramanujan_rounds_are_algorithm_1():
    """With ramanujan=True each round's masks are seed 001 Algorithm 1 on the trained magnitudes."""
    model = mlp()
    expected = []

    def train(m, rewind_point):
        out = trainer(steps=8)(m, rewind_point)
        current = rt.masks_of(m).masks()
        expected.append(rt.ramanujan_prune(m, "magnitude", 0.3, masks=current).masks)
        return out

    res = rt.iterative_pruning(model, train, 3, fraction=0.3, ramanujan=True)
    for r, prev in zip(res.rounds[1:], expected):
        for name, mask in prev.items():
            torch.testing.assert_close(r.masks[name], mask.to(r.masks[name].dtype))
    assert all(isinstance(r.ramanujan_pieces, int) for r in res.rounds)


def test_bad_arguments():
    model = mlp()
    with pytest.raises(ValueError, match="rounds"):
        rt.iterative_pruning(model, trainer(), 0)
    with pytest.raises(ValueError, match="fraction"):
        rt.iterative_pruning(model, trainer(), 2, fraction=1.5)
    with pytest.raises(TypeError, match="train_fn"):
        rt.iterative_pruning(model, None, 2)
    with pytest.raises(ValueError, match="not layers selected"):
        rt.iterative_pruning(model, trainer(), 2, masks={"nope": torch.ones(3)})
