"""The framework runtime and kube-scheduler's failure message."""

from __future__ import annotations

import pytest

from services.scheduler.framework import (
    BindPlugin,
    Code,
    CycleState,
    Diagnosis,
    FilterPlugin,
    FitError,
    Framework,
    NodeInfo,
    PodInfo,
    PreFilterPlugin,
    PreFilterResult,
    ScorePlugin,
    Status,
    default_normalize_score,
)
from services.scheduler.framework.interface import NodeScore

from .builders import make_node, make_pod


class Reject(FilterPlugin):
    def __init__(self, name: str, code: Code = Code.UNSCHEDULABLE, only: set[str] | None = None) -> None:
        self.name, self.code, self.only, self.calls = name, code, only, 0

    def filter(self, state, pod, node):
        self.calls += 1
        if self.only is None or node.name in self.only:
            return Status(self.code, f"rejected by {self.name}")
        return None


class Narrow(PreFilterPlugin):
    def __init__(self, name: str, names: set[str] | None, status: Status | None = None) -> None:
        self.name, self.names, self.status = name, names, status

    def pre_filter(self, state, pod, nodes):
        return (PreFilterResult(self.names) if self.names is not None else None), self.status


class SkipMe(PreFilterPlugin, FilterPlugin):
    name = "SkipMe"

    def pre_filter(self, state, pod, nodes):
        return None, Status(Code.SKIP)

    def filter(self, state, pod, node):
        raise AssertionError("a plugin that returned Skip at PreFilter must not filter")


class Fixed(ScorePlugin):
    def __init__(self, name: str, scores: dict[str, int], normalize=None) -> None:
        self.name, self.scores, self.normalize = name, scores, normalize

    def score(self, state, pod, node):
        return self.scores[node.name], None

    def normalize_score(self, state, pod, scores):
        if self.normalize:
            self.normalize(scores)
        return None


NODES = [NodeInfo(make_node(n)) for n in ("a", "b", "c")]
POD = PodInfo(make_pod())


def test_first_rejecting_filter_decides_and_later_ones_do_not_run():
    first, second = Reject("First"), Reject("Second")
    fwk = Framework([first, second])
    status = fwk.run_filter_plugins(CycleState(), POD, NODES[0])
    assert status.reasons == ["rejected by First"] and status.plugin == "First"
    assert second.calls == 0


def test_a_filter_returning_a_non_rejection_code_becomes_an_error():
    fwk = Framework([Reject("Odd", code=Code.WAIT)])
    status = fwk.run_filter_plugins(CycleState(), POD, NODES[0])
    assert status.code == Code.ERROR and status.plugin == "Odd"


def test_prefilter_skip_removes_the_filter_for_the_cycle():
    fwk = Framework([SkipMe()])
    state = CycleState()
    _, status, _ = fwk.run_pre_filter_plugins(state, POD, NODES)
    assert status is None and state.skip_filter_plugins == {"SkipMe"}
    assert fwk.run_filter_plugins(state, POD, NODES[0]) is None


@pytest.mark.parametrize(("plugins", "names", "reason"), [
    ([Narrow("A", {"a", "b"}), Narrow("B", {"b", "c"})], {"b"}, None),
    ([Narrow("A", {"a"}), Narrow("B", None)], {"a"}, None),
    ([Narrow("A", {"a"}), Narrow("B", {"b"})], set(), "node(s) didn't satisfy plugin(s) [A B] simultaneously"),
    ([Narrow("A", set())], set(), "node(s) didn't satisfy plugin A"),
])
def test_prefilter_results_intersect(plugins, names, reason):
    result, status, _ = Framework(plugins).run_pre_filter_plugins(CycleState(), POD, NODES)
    assert result.node_names == names
    if reason is None:
        assert status is None
    else:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE and status.reasons == [reason]


def test_prefilter_rejection_names_the_plugin():
    fwk = Framework([Narrow("A", None, Status(Code.UNSCHEDULABLE, "no"))])
    _, status, rejected = fwk.run_pre_filter_plugins(CycleState(), POD, NODES)
    assert status.plugin == "A" and rejected == {"A"}


def test_scores_are_weighted_and_summed():
    fwk = Framework([Fixed("X", {"a": 10, "b": 20, "c": 0}), Fixed("Y", {"a": 50, "b": 0, "c": 100})],
                    score_weights={"X": 3})
    totals, status = fwk.run_score_plugins(CycleState(), POD, NODES)
    assert status is None
    assert totals == [80, 60, 100]


def test_a_score_out_of_range_after_normalizing_is_an_error():
    fwk = Framework([Fixed("X", {"a": 101, "b": 0, "c": 0})])
    _, status = fwk.run_score_plugins(CycleState(), POD, NODES)
    assert status.code == Code.ERROR and "invalid score 101" in status.message()


def test_normalizing_brings_scores_in_range():
    fwk = Framework([Fixed("X", {"a": 400, "b": 200, "c": 0},
                           normalize=lambda s: default_normalize_score(100, False, s))])
    totals, status = fwk.run_score_plugins(CycleState(), POD, NODES)
    assert status is None and totals == [100, 50, 0]


@pytest.mark.parametrize(("raw", "reverse", "expected"), [
    ([0, 0], False, [0, 0]), ([0, 0], True, [100, 100]), ([1, 2, 4], False, [25, 50, 100]),
    ([1, 2, 4], True, [75, 50, 0]),
])
def test_default_normalize_score(raw, reverse, expected):
    scores = [NodeScore(str(i), s) for i, s in enumerate(raw)]
    default_normalize_score(100, reverse, scores)
    assert [s.score for s in scores] == expected


class Binder(BindPlugin):
    def __init__(self, name, status):
        self.name, self.status, self.calls = name, status, []

    async def bind(self, state, pod, node_name):
        self.calls.append(node_name)
        return self.status


async def test_bind_plugins_run_until_one_does_not_skip():
    skip, ok, never = Binder("Skip", Status(Code.SKIP)), Binder("Ok", None), Binder("Never", None)
    status = await Framework([skip, ok, never]).run_bind_plugins(CycleState(), POD, "a")
    assert status.is_success() and status.plugin == "Ok"
    assert skip.calls == ["a"] and ok.calls == ["a"] and never.calls == []


async def test_a_failing_bind_is_an_error_status():
    status = await Framework([Binder("B", Status(Code.ERROR, "conflict"))]).run_bind_plugins(CycleState(), POD, "a")
    assert status.code == Code.ERROR and "conflict" in status.message()


def _fit_error(num_nodes: int, statuses: dict[str, Status], **diagnosis) -> str:
    return str(FitError("default/p", num_nodes, Diagnosis(node_to_status=statuses, **diagnosis)))


def test_fit_error_message_as_kube_scheduler():
    taint = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                   "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")
    memory = Status(Code.UNSCHEDULABLE, "Insufficient memory")
    message = _fit_error(3, {"cp": taint, "n1": memory, "n2": memory})
    assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                       "{node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.")


def test_fit_error_counts_each_reason_and_sorts_as_strings():
    both = Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory")
    statuses = {f"n{i}": both for i in range(10)}
    statuses["x"] = Status(Code.UNSCHEDULABLE, "Too many pods")
    statuses["y"] = Status(Code.UNSCHEDULABLE, "Too many pods")
    assert _fit_error(12, statuses) == ("0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, "
                                        "2 Too many pods.")
    three = {f"n{i}": Status(Code.UNSCHEDULABLE, "Insufficient cpu") for i in range(3)}
    assert _fit_error(3, three) == "0/3 nodes are available: 3 Insufficient cpu."


def test_fit_error_with_prefilter_message_and_absent_nodes():
    assert _fit_error(5, {}, pre_filter_msg="pod affinity terms conflict") == (
        "0/5 nodes are available: pod affinity terms conflict.")
    absent = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't satisfy plugin(s) [NodeAffinity]")
    message = _fit_error(4, {"a": Status(Code.UNSCHEDULABLE, "Insufficient cpu")}, absent_nodes_status=absent)
    assert message == ("0/4 nodes are available: 1 Insufficient cpu, "
                       "3 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_fit_error_appends_post_filter_message():
    message = _fit_error(1, {"a": Status(Code.UNSCHEDULABLE, "Insufficient cpu")},
                         post_filter_msg="preemption: 0/1 nodes are available: 1 No preemption victims found.")
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. "
                       "preemption: 0/1 nodes are available: 1 No preemption victims found.")


@pytest.mark.parametrize("raw", [[0, 0, 0], [1, 2, 4], [7], [], [3, 0, 3, 9]])
@pytest.mark.parametrize("reverse", [False, True])
def test_default_normalize_on_integers_matches_node_scores(raw, reverse):
    from services.scheduler.framework import default_normalize_values

    scores = [NodeScore(str(i), s) for i, s in enumerate(raw)]
    default_normalize_score(100, reverse, scores)
    assert default_normalize_values(100, reverse, raw) == [s.score for s in scores]


def test_plugins_declaring_default_normalize_really_use_it():
    from services.scheduler.plugins import default_plugins

    for plugin in default_plugins():
        if getattr(plugin, "default_normalize_reverse", None) is None:
            continue
        scores = [NodeScore("a", 1), NodeScore("b", 3)]
        plugin.normalize_score(CycleState(), POD, scores)
        expected = [NodeScore("a", 1), NodeScore("b", 3)]
        default_normalize_score(100, plugin.default_normalize_reverse, expected)
        assert [s.score for s in scores] == [s.score for s in expected], plugin.name
