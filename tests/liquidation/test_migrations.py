"""Data migrations of the liquidation app do to a stored database what they say."""

import pytest

from risk.models import MarginCall
from tests.migrations import migrate, migrate_to_latest

REFUSAL = "该追收单已标记为异常单：批量平仓不处理它（可在其详情页平仓）。"


@pytest.mark.django_db(transaction=True)
def test_a_batch_refusal_is_kept_as_its_language_and_back(book, trader):
    """Before 0008 a batch item's outcome held its refusal, in the language of whoever started the
    batch; after, the outcome is "refused" and the refusal is kept as that language's text."""
    first, second = MarginCall.objects.order_by("pk").values_list("pk", flat=True)[:2]
    apps = migrate([("liquidation", "0007_batch_item_plan")])
    Batch, BatchItem = apps.get_model("liquidation", "Batch"), apps.get_model("liquidation", "BatchItem")
    batch = Batch.objects.create(created_by_id=trader.pk, key="k" * 22, language="zh-hans", total=2, done=2)
    BatchItem.objects.create(batch=batch, call_id=first, done=True, orders=1, outcome="placed")
    BatchItem.objects.create(batch=batch, call_id=second, done=True, outcome=REFUSAL)

    apps = migrate([("liquidation", "0008_batch_item_refusal")])
    items = apps.get_model("liquidation", "BatchItem").objects.order_by("call_id")
    assert [(item.outcome, item.refusal) for item in items] == [("placed", {}), ("refused", {"zh-hans": REFUSAL})]

    apps = migrate([("liquidation", "0007_batch_item_plan")])
    items = apps.get_model("liquidation", "BatchItem").objects.order_by("call_id")
    assert [item.outcome for item in items] == ["placed", REFUSAL]
    migrate_to_latest()
