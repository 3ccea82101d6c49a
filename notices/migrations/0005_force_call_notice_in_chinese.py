"""The default Chinese force-call notice no longer says the account "has entered forced liquidation"
(强制平仓通知), which a client reads as a liquidation under way: it is an urgent margin call, at the
force-liquidation level, after which the broker may liquidate at any time. Templates still holding the
text shipped before are moved to the new one; a template a risk admin has edited is left as it is."""

from django.db import migrations

# (subject, email text, SMS and voice text) shipped before, per language
BEFORE = {
    "zh-hans": (
        "账户 {account} 强制平仓通知",
        "{name} 您好：\n\n您的账户 {account} 已进入强制平仓状态，应追缴金额港币 {call_amount}（净资产比率 {ratio}）。"
        "我们可能随时为您平仓以恢复保证金，请立即存入资金。\n\n{broker}",
        "{broker}：账户 {account} 已进入强制平仓，应追缴港币 {call_amount}，我们可能随时平仓，请立即存入资金。",
    ),
    "zh-hant": (
        "帳戶 {account} 強制平倉通知",
        "{name} 您好：\n\n您的帳戶 {account} 已進入強制平倉狀態，應追繳金額港幣 {call_amount}（淨資產比率 {ratio}）。"
        "我們可能隨時為您平倉以恢復保證金，請立即存入資金。\n\n{broker}",
        "{broker}：帳戶 {account} 已進入強制平倉，應追繳港幣 {call_amount}，我們可能隨時平倉，請立即存入資金。",
    ),
}


def _texts(entry):
    subject, email, short = entry
    return {"email": (subject, email), "sms": ("", short), "voice": ("", short)}


def forward(apps, schema_editor):
    from notices.defaults import TEXTS

    _move(apps, BEFORE, {language: TEXTS[language]["force_call"] for language in BEFORE})


def backward(apps, schema_editor):
    from notices.defaults import TEXTS

    _move(apps, {language: TEXTS[language]["force_call"] for language in BEFORE}, BEFORE)


def _move(apps, before, after):
    NoticeTemplate = apps.get_model("notices", "NoticeTemplate")
    for language, entry in before.items():
        new = _texts(after[language])
        for channel, (subject, body) in _texts(entry).items():
            NoticeTemplate.objects.filter(
                kind="force_call", channel=channel, language=language, subject=subject, body=body
            ).update(subject=new[channel][0], body=new[channel][1])


class Migration(migrations.Migration):
    dependencies = [("notices", "0004_recovery_templates")]

    operations = [migrations.RunPython(forward, backward)]
