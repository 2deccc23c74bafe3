"""The benchmarks' method: how ``bench.herd`` orders a round's phases, how ``bench.herd_turns``
orders and counts its turns, how ``bench.herd_cpu`` shares out the machine's CPU time, and how
``bench.report`` pairs and judges them. A verdict on the performance page is only as sound as
these."""

import pytest

from bench.herd import MEASURED, PHASES, POPULATIONS, round_order
from bench.herd_cpu import server_ms_per_pull, shared_ms_per_pull
from bench.herd_turns import Turn, blocks
from bench.report import HERD_ROUNDS, _paired, _resolution, _server_costs, _turns, _verdict

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


# -- bench.herd_turns: a steady herd, the servers taking turns -----------------------------------

TURNS = ("record_on", "record_off", "record_off_again")


@pytest.mark.parametrize("count", [1, 2, 6])
def test_every_block_has_one_stock_turn_and_each_turn_of_each_population_once(count):
    for block in blocks(MEASURED, count):
        assert sorted(block) == sorted([("stock", "anonymous")] + [
            (turn, population) for population in MEASURED for turn in TURNS])


@pytest.mark.parametrize("pair", [("record_on", "record_off"), ("record_off_again", "record_off")])
def test_turns_compared_run_next_to_each_other_and_each_first_in_every_other_block(pair):
    for population in MEASURED:
        first = []
        for block in blocks(MEASURED, 6):
            one, other = (block.index((turn, population)) for turn in pair)
            assert abs(one - other) == 1
            first.append(one < other)
        assert first == [True, False] * 3 or first == [False, True] * 3


def test_a_turn_counts_its_pulls_completed_after_it_settled_and_before_it_ended():
    turn = Turn("record_on", "hosts", 0, started=100.0, ended=145.0)
    turn.completed = [105.0, 114.9, 115.0, 130.0, 144.99, 145.0, 150.0]
    assert turn.counted(settle=15.0) == 3


def _turn(block, name, population, rate):
    return {"block": block, "turn": name, "population": population, "pulls_per_second": rate}


def test_the_cost_the_control_and_the_ratio_to_stock_compare_turns_of_one_block():
    report = {"turns": [
        _turn(0, "stock", "anonymous", 5.0),
        _turn(0, "record_on", "hosts", 4.75), _turn(0, "record_off", "hosts", 5.0),
        _turn(0, "record_off_again", "hosts", 5.05),
        _turn(1, "record_off_again", "hosts", 4.0), _turn(1, "record_off", "hosts", 4.0),
        _turn(1, "record_on", "hosts", 3.84), _turn(1, "stock", "anonymous", 4.8),
    ]}
    hosts = _turns(report)["hosts"]
    assert [block["record_on"]["block"] for block in hosts["blocks"]] == [0, 1]
    assert hosts["cost"] == pytest.approx([0.05, 0.04])  # 5 % fewer pulls/s, then 4 %
    assert hosts["control"] == pytest.approx([-0.01, 0.0])  # 1 % more, then as many
    assert hosts["stock"] == pytest.approx([0.95, 0.8])  # 4.75 to stock's 5.0, 3.84 to 4.8


@pytest.mark.parametrize("name", ["record_off", "stock"])
def test_a_baseline_turn_that_counted_no_pull_is_an_error_not_a_figure(name):
    rates = {"stock": 5.0, "record_on": 4.0, "record_off": 4.1, "record_off_again": 4.2, name: 0}
    report = {"turns": [_turn(2, turn, "anonymous" if turn == "stock" else "foreman", rate)
                        for turn, rate in rates.items()]}
    with pytest.raises(ValueError, match=f"block 3: the {name} turn for foreman counted no pull"):
        _turns(report)


def test_the_resolution_is_half_the_widest_spread_of_the_control():
    found = {"hosts": {"control": [-0.02, 0.04, 0.01]}, "foreman": {"control": [0.10, -0.06]}}
    assert _resolution(found) == pytest.approx(0.08)  # foreman: from -6 % to +10 %


@pytest.mark.parametrize(("met", "distance", "verdict"), [
    (True, 0.031, "met."),
    (False, 0.031, "**not met**."),
    (True, 0.03, "**not resolved**"),  # no farther from the target than the noise
    (False, 0.01, "**not resolved**"),
])
def test_a_figure_within_the_resolution_of_its_target_gets_no_verdict(met, distance, verdict):
    assert _verdict(met, distance, resolution=0.03).startswith(verdict)


# -- bench.herd_cpu: what each server costs, the servers pulled at once --------------------------


def _server(pulls, api_ms, apache_ms=0.0, statements_ms=0.0):
    return {"pulls": pulls, "api_ms": api_ms, "apache_ms": apache_ms,
            "statements_ms": statements_ms, "errors": {}}


def _cpu_measurement(number=0, population="hosts"):
    # 25 pulls each; own CPU per pull: on 110 ms, off and off again 100 ms, stock 90 ms.
    return {"round": number, "population": population, "machine_cpu_ms": 30_000.0, "servers": {
        "record_on": _server(25, 2_000.0, 250.0, 500.0),
        "record_off": _server(25, 2_000.0, 250.0, 250.0),
        "control": _server(25, 2_250.0, 250.0),
        "stock": _server(25, 2_250.0),
    }}


def test_a_servers_cpu_per_pull_is_its_processes_and_its_statements_over_its_pulls():
    measurement = _cpu_measurement()
    assert server_ms_per_pull(measurement["servers"]["record_on"]) == pytest.approx(110.0)
    assert server_ms_per_pull(measurement["servers"]["stock"]) == pytest.approx(90.0)
    # 30 000 ms of the machine, 10 000 of them the servers' own, over 100 pulls.
    assert shared_ms_per_pull(measurement) == pytest.approx(200.0)


def test_a_capsules_pulls_per_second_go_as_the_inverse_of_its_cpu_per_pull():
    figures = _server_costs({"measurements": [_cpu_measurement()]})["hosts"]
    # A capsule serving the record on spends 200 + 110 ms per pull, off 200 + 100: on the same
    # CPUs it pulls 300/310 as often.
    assert figures["cost"] == [pytest.approx(1 - 300 / 310)]
    assert figures["control"] == [pytest.approx(0.0)]
    assert figures["stock"] == [pytest.approx(290 / 310)]


def test_a_server_that_completed_no_pull_in_the_window_is_an_error_not_a_figure():
    measurement = _cpu_measurement(number=1, population="foreman")
    measurement["servers"]["control"]["pulls"] = 0
    with pytest.raises(ValueError, match="round 2, foreman: the control server completed no"):
        _server_costs({"measurements": [measurement]})
