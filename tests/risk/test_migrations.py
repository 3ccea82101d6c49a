"""Data migrations do to a stored database what they say."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_a_rule_sets_long_outstanding_days_beyond_ten_years_come_down_to_ten():
    before, after = (
        [("risk", "0012_figures_room_to_update_in_place")],
        [("risk", "0013_long_outstanding_at_most_ten_years")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    RuleSet = executor.loader.project_state(before).apps.get_model("risk", "RuleSet")
    RuleSet.objects.filter(account_kind="margin").update(long_outstanding_days=30_000)
    RuleSet.objects.filter(account_kind="cash").update(long_outstanding_days=90)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    RuleSet = executor.loader.project_state(after).apps.get_model("risk", "RuleSet")
    days = dict(RuleSet.objects.values_list("account_kind", "long_outstanding_days"))
    assert (days["margin"], days["cash"]) == (3650, 90)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
