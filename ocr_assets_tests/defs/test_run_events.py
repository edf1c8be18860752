"""A run's check results read back from the instance a page at a time: every one, in order,
whatever the page size, and those of a step that failed too."""

import dagster as dg
import pytest

from ocr_assets.orchestration.run_events import check_evaluations

CHECKS = [f"check_{n}" for n in range(5)]


def run_with_checks(instance: dg.DagsterInstance, *, fail: bool) -> str:
    """A run whose step records a result of each check through `log_event`, then fails when
    asked: the folder step's way."""

    @dg.asset(check_specs=[dg.AssetCheckSpec(name, asset="pages") for name in CHECKS])
    def pages(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        for number, name in enumerate(CHECKS):
            context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("pages"), check_name=name, passed=number % 2 == 0))
        if fail:
            raise dg.Failure("a blocking check failed")
        return dg.MaterializeResult()

    result = dg.materialize([pages], instance=instance, raise_on_error=False)
    return result.run_id


@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("per_page", [2, 500])
def test_every_check_result_in_order_whatever_the_page(per_page: int, fail: bool) -> None:
    with dg.instance_for_test() as instance:
        run_id = run_with_checks(instance, fail=fail)
        read = list(check_evaluations(instance, run_id, per_page=per_page))

    assert [e.check_name for e in read] == CHECKS
    assert [e.passed for e in read] == [True, False, True, False, True]
