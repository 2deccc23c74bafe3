"""The benchmarks' method: how ``bench.herd`` orders a round's phases and how ``bench.report``
pairs them. A verdict on the performance page is only as sound as these."""

import pytest

from bench.herd import PHASES, POPULATIONS, round_order
from bench.report import HERD_ROUNDS, _paired

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
