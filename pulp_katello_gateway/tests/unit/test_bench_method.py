"""The benchmarks' method: how ``bench.herd`` orders a round's phases, how ``bench.side_by_side``
counts the nodes it pulls at once, and how ``bench.report`` pairs them. A verdict on the
performance page is only as sound as these."""

import pytest

from bench.herd import PHASES, POPULATIONS, round_order
from bench.report import HERD_ROUNDS, _paired, _side_by_side
from bench.side_by_side import Side, rotated

PAIRS = [(("record_on", population), ("record_off", population))
         for population in ("anonymous", "hosts", "foreman")]
PAIRS.append((("stock", "anonymous"), ("record_on", "anonymous")))


def _orders(rounds):
    return [round_order(list(POPULATIONS), number, rounds) for number in range(rounds)]


@pytest.mark.parametrize("rounds", [1, 3, 12])
def test_every_round_runs_every_phase_once(rounds):
    for order in _orders(rounds):
        assert sorted(order) == sorted(PHASES)


@pytest.mark.parametrize("rounds", [2, 3, 6, 12])
def test_neither_of_two_phases_compared_always_runs_first(rounds):
    for first, second in PAIRS:
        runs_first = [order.index(first) < order.index(second) for order in _orders(rounds)]
        assert any(runs_first) and not all(runs_first)


@pytest.mark.parametrize("rounds", sorted({2, 6, *(r for r in HERD_ROUNDS if r % 2 == 0)}))
def test_over_an_even_number_of_rounds_each_phase_of_a_pair_runs_first_equally_often(rounds):
    for first, second in PAIRS:
        runs_first = sum(order.index(first) < order.index(second) for order in _orders(rounds))
        assert runs_first * 2 == rounds


def test_ratios_are_taken_within_a_round_and_skip_rounds_without_a_baseline():
    phases = [{"round": 0, "pulls_per_second": 4.0}, {"round": 1, "pulls_per_second": 6.0},
              {"round": 2, "pulls_per_second": 5.0}]
    baseline = [{"round": 1, "pulls_per_second": 3.0}, {"round": 0, "pulls_per_second": 5.0}]
    assert _paired(phases, baseline) == [4.0 / 5.0, 6.0 / 3.0]


# -- bench.side_by_side: the nodes pulled at once -------------------------------------------------


@pytest.mark.parametrize("count", [2, 3])
def test_each_node_leads_the_ramp_and_each_population_a_round_in_turn(count):
    items = [f"item-{index}" for index in range(count)]
    orders = [rotated(items, shift) for shift in range(count)]
    assert all(sorted(order) == items for order in orders)
    for position in range(count):
        assert sorted(order[position] for order in orders) == items
    assert rotated(items, count) == items


def test_a_node_counts_the_pulls_completed_within_the_window_and_none_outside():
    side = Side(node=None, pool=[], repository=None)
    side.completed = [9.9, 10.0, 15.0, 19.999, 20.0, 31.0]
    assert side.in_window(10.0, 20.0) == 3


def _measurement(population, number, on, off, control, stock):
    nodes = {key: {"pulls": pulls} for key, pulls in (("record_on", on), ("record_off", off),
                                                       ("control", control), ("stock", stock))}
    return {"population": population, "round": number, "nodes": nodes}


def test_the_cost_the_control_and_the_ratio_to_stock_compare_pulls_of_the_same_window():
    report = {"measurements": [
        _measurement("hosts", 0, on=190, off=200, control=202, stock=200),
        _measurement("anonymous", 0, on=300, off=300, control=297, stock=250),
        _measurement("hosts", 1, on=96, off=100, control=100, stock=120),
    ]}
    found = _side_by_side(report)
    assert list(found) == ["hosts", "anonymous"]
    hosts = found["hosts"]
    assert [row["round"] for row in hosts["rows"]] == [0, 1]
    assert hosts["cost"] == pytest.approx([0.05, 0.04])  # 10 of 200 pulls lost, then 4 of 100
    assert hosts["control"] == pytest.approx([-0.01, 0.0])  # the other node off: 2 more, as many
    assert hosts["stock"] == pytest.approx([0.95, 0.8])  # 190 pulls to stock's 200, 96 to 120
    assert found["anonymous"]["cost"] == [0.0]
    assert found["anonymous"]["control"] == pytest.approx([0.01])
    assert found["anonymous"]["stock"] == pytest.approx([1.2])


@pytest.mark.parametrize("node", ["record_off", "stock"])
def test_a_window_in_which_a_baseline_node_pulled_nothing_is_an_error_not_a_figure(node):
    pulls = {"on": 80, "off": 81, "control": 81, "stock": 79, node.removeprefix("record_"): 0}
    report = {"measurements": [_measurement("foreman", 2, **pulls)]}
    with pytest.raises(ValueError, match=f"round 3, foreman: the {node} node completed no pull"):
        _side_by_side(report)
