"""The transition tables say exactly what DESIGN.md ("Render lifecycle") draws.

The expected edges are written out here by hand, not derived from the module, so that a
change to the table that the design does not make fails.
"""

import pytest

from rightsdesk.core.errors import InvalidTransition
from rightsdesk.renders import states
from rightsdesk.renders.states import AssetStatus, RequestStatus

REQUEST_NON_TERMINAL = ["submitted", "awaiting_brief_approval", "approved", "queued", "rendering"]
EXPECTED_REQUEST_EDGES = {
    ("submitted", "denied"),
    ("submitted", "awaiting_brief_approval"),
    ("submitted", "approved"),
    ("awaiting_brief_approval", "approved"),
    ("awaiting_brief_approval", "rejected"),
    ("approved", "queued"),
    ("queued", "rendering"),
    ("rendering", "rendered"),
    # The sweeper's requeue of a render whose worker died (not drawn in DESIGN.md; the file
    # broker loses the message when the worker's main process is killed).
    ("rendering", "queued"),
    *((status, "cancelled") for status in REQUEST_NON_TERMINAL),
    *((status, "failed") for status in REQUEST_NON_TERMINAL),
}
EXPECTED_ASSET_EDGES = {
    ("draft", "selected"),
    ("selected", "awaiting_output_approval"),
    ("awaiting_output_approval", "approved"),
    ("awaiting_output_approval", "deemed_approved"),
    ("approved", "released"),
    ("deemed_approved", "released"),
    *(
        (source, target)
        for source in ("draft", "selected", "awaiting_output_approval")
        for target in ("rejected", "expired", "withdrawn")
    ),
    # Approved but not yet released: its reservation may lapse, or a withdrawal take it.
    *(
        (source, target)
        for source in ("approved", "deemed_approved")
        for target in ("expired", "withdrawn")
    ),
}


def _edges(table: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    return {(str(source), str(target)) for source, targets in table.items() for target in targets}


def _all_pairs(values: list[str]) -> set[tuple[str, str]]:
    return {(source, target) for source in values for target in values}


def test_request_table_has_exactly_the_designed_edges():
    assert len(EXPECTED_REQUEST_EDGES) == 19
    assert _edges(states.REQUEST_TRANSITIONS) == EXPECTED_REQUEST_EDGES


def test_asset_table_has_exactly_the_designed_edges():
    assert len(EXPECTED_ASSET_EDGES) == 19
    assert _edges(states.ASSET_TRANSITIONS) == EXPECTED_ASSET_EDGES


def test_every_status_has_a_row_in_its_table():
    assert set(states.REQUEST_TRANSITIONS) == set(RequestStatus.values)
    assert set(states.ASSET_TRANSITIONS) == set(AssetStatus.values)


def test_terminal_statuses_are_those_with_no_way_out():
    assert {"denied", "rejected", "rendered", "cancelled", "failed"} == states.REQUEST_TERMINAL
    assert {"released", "rejected", "expired", "withdrawn"} == states.ASSET_TERMINAL
    for table, terminal in (
        (states.REQUEST_TRANSITIONS, states.REQUEST_TERMINAL),
        (states.ASSET_TRANSITIONS, states.ASSET_TERMINAL),
    ):
        assert {status for status, targets in table.items() if not targets} == terminal


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("request", RequestStatus.values, EXPECTED_REQUEST_EDGES),
        ("asset", AssetStatus.values, EXPECTED_ASSET_EDGES),
    ],
)
def test_can_transition_answers_true_exactly_for_the_designed_edges(kind, values, expected):
    for source, target in _all_pairs(values):
        assert states.can_transition(kind, source, target) is ((source, target) in expected)


def test_check_transition_refuses_with_the_stable_code_and_both_states():
    with pytest.raises(InvalidTransition) as caught:
        states.check_transition("request", "rendered", "queued")

    assert caught.value.code == "invalid_transition"
    assert caught.value.extra == {"from": "rendered", "to": "queued"}


def test_check_transition_refuses_an_unknown_status():
    with pytest.raises(InvalidTransition):
        states.check_transition("asset", "published", "released")
