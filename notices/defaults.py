"""The notice templates a new installation starts with, in English, Simplified and Traditional Chinese.
Risk admins edit them in Django admin; a missing one falls back to English."""

# kind -> (email subject, email text, SMS and voice text)
TEXTS = {
    "en": {
        "trigger": (
            "Margin call on account {account}",
            "Dear {name},\n\nYour account {account} has a margin call of HKD {call_amount} (type: {type}); its net "
            "asset ratio is {ratio}. Please deposit funds or reduce your positions before {deadline} "
            "(Hong Kong time). After the deadline we may liquidate your positions without further notice.\n\n"
            "{broker}",
            "{broker}: account {account} has a margin call of HKD {call_amount}. Please deposit or reduce "
            "positions before {deadline}, or we may liquidate.",
        ),
        "force_call": (
            "Force call on account {account}",
            "Dear {name},\n\nYour account {account} is now under a force call: HKD {call_amount} is due "
            "(net asset ratio {ratio}). We may liquidate your positions at any time to restore your margin. "
            "Please deposit funds at once.\n\n{broker}",
            "{broker}: account {account} is under a FORCE CALL of HKD {call_amount}. We may liquidate at any "
            "time. Please deposit at once.",
        ),
        "daily": (
            "Reminder: margin call on account {account}",
            "Dear {name},\n\nYour account {account} still has a margin call of HKD {call_amount} (type: {type}); "
            "its net asset ratio is {ratio}. The deadline is {deadline} (Hong Kong time).\n\n{broker}",
            "{broker}: reminder, account {account} still has a margin call of HKD {call_amount}. Deadline {deadline}.",
        ),
        "debit": (
            "Debit balance on account {account}",
            "Dear {name},\n\nYour account {account} has a debit balance and holds no positions. Please deposit "
            "HKD {call_amount} before {deadline} (Hong Kong time).\n\n{broker}",
            "{broker}: account {account} has a debit balance and no positions. Please deposit HKD {call_amount} "
            "before {deadline}.",
        ),
        "manual": (
            "About your account {account}",
            "Dear {name},\n\nAbout the margin call on your account {account} (HKD {call_amount}, deadline "
            "{deadline}): please contact our risk desk.\n\n{broker}",
            "{broker}: about the margin call on account {account} (HKD {call_amount}), please contact our risk desk.",
        ),
        "liquidation": (
            "Liquidation on account {account}",
            "Dear {name},\n\nTo meet the margin call on your account {account} (HKD {call_amount}), we have "
            "placed orders to sell or buy back positions. You will receive the trade confirmations.\n\n{broker}",
            "{broker}: to meet the margin call on account {account}, we have placed liquidation orders.",
        ),
        "recovery": (
            "Stock to return on account {account}",
            "Dear {name},\n\nYour account {account} must buy back or deliver {quantity} shares of {stock} by "
            "{due} (Hong Kong time). If it does not, we may buy them back for you.\n\n{broker}",
            "{broker}: account {account} must buy back {quantity} {stock} by {due}, or we may buy them back.",
        ),
        "covered_call": (
            "Shares to cover your call options on account {account}",
            "Dear {name},\n\nYour account {account} has sold call options on {stock} that its shares no longer "
            "cover: {quantity} shares of {stock} are missing. Please deposit or buy them, or close the call "
            "options, by {due} (Hong Kong time). If you do not, we may buy the shares for you.\n\n{broker}",
            "{broker}: account {account} lacks {quantity} {stock} shares to cover its sold calls. Deposit or buy "
            "them, or close the calls, by {due}, or we may buy them.",
        ),
    },
    "zh-hans": {
        "trigger": (
            "账户 {account} 追加保证金通知",
            "{name} 您好：\n\n您的账户 {account} 出现保证金追收（类型：{type}），应追缴金额港币 {call_amount}，"
            "净资产比率 {ratio}。请于香港时间 {deadline} 前存入资金或减少持仓。逾期我们可能在不另行通知的情况下"
            "为您平仓。\n\n{broker}",
            "{broker}：账户 {account} 需追加保证金港币 {call_amount}，请于 {deadline} 前存入资金或减仓，"
            "否则我们可能为您平仓。",
        ),
        "force_call": (
            "账户 {account} 紧急追加保证金通知",
            "{name} 您好：\n\n您的账户 {account} 的净资产已跌至强制平仓水平（净资产比率 {ratio}），应追缴金额港币 "
            "{call_amount}。我们可能随时为您平仓以恢复保证金，请立即存入资金。\n\n{broker}",
            "{broker}：账户 {account} 已跌至强制平仓水平，应追缴港币 {call_amount}，我们可能随时平仓，请立即存入资金。",
        ),
        "daily": (
            "提示：账户 {account} 仍需追加保证金",
            "{name} 您好：\n\n您的账户 {account} 仍需追加保证金港币 {call_amount}（类型：{type}），净资产比率 "
            "{ratio}。截止时间为香港时间 {deadline}。\n\n{broker}",
            "{broker}：提示，账户 {account} 仍需追加保证金港币 {call_amount}，截止 {deadline}。",
        ),
        "debit": (
            "账户 {account} 欠款通知",
            "{name} 您好：\n\n您的账户 {account} 出现欠款且并无持仓，请于香港时间 {deadline} 前存入港币 "
            "{call_amount}。\n\n{broker}",
            "{broker}：账户 {account} 出现欠款且无持仓，请于 {deadline} 前存入港币 {call_amount}。",
        ),
        "manual": (
            "关于您的账户 {account}",
            "{name} 您好：\n\n关于您账户 {account} 的追加保证金（港币 {call_amount}，截止 {deadline}），"
            "请与我们的风险管理部联系。\n\n{broker}",
            "{broker}：关于账户 {account} 的追加保证金（港币 {call_amount}），请与我们的风险管理部联系。",
        ),
        "liquidation": (
            "账户 {account} 平仓通知",
            "{name} 您好：\n\n为满足您账户 {account} 的追加保证金（港币 {call_amount}），我们已下单卖出或买回持仓。"
            "成交后您将收到成交单据。\n\n{broker}",
            "{broker}：为满足账户 {account} 的追加保证金，我们已下达平仓指令。",
        ),
        "recovery": (
            "账户 {account} 需交还股票",
            "{name} 您好：\n\n您的账户 {account} 须于香港时间 {due} 前买回或交付 {stock} 共 {quantity} 股。"
            "逾期我们可能为您买回。\n\n{broker}",
            "{broker}：账户 {account} 须于 {due} 前买回 {stock} {quantity} 股，否则我们可能为您买回。",
        ),
        "covered_call": (
            "账户 {account} 备兑认购期权所需股票",
            "{name} 您好：\n\n您的账户 {account} 已沽出 {stock} 的认购期权，但所持股票不足以备兑，尚欠 {stock} "
            "{quantity} 股。请于香港时间 {due} 前存入或买入该批股票，或平仓所沽出的认购期权。逾期我们可能为您买入。"
            "\n\n{broker}",
            "{broker}：账户 {account} 沽出的认购期权尚欠 {stock} {quantity} 股备兑，请于 {due} 前存入或买入，"
            "或平仓认购期权，否则我们可能为您买入。",
        ),
    },
    "zh-hant": {
        "trigger": (
            "帳戶 {account} 追加保證金通知",
            "{name} 您好：\n\n您的帳戶 {account} 出現保證金追收（類型：{type}），應追繳金額港幣 {call_amount}，"
            "淨資產比率 {ratio}。請於香港時間 {deadline} 前存入資金或減少持倉。逾期我們可能在不另行通知的情況下"
            "為您平倉。\n\n{broker}",
            "{broker}：帳戶 {account} 需追加保證金港幣 {call_amount}，請於 {deadline} 前存入資金或減倉，"
            "否則我們可能為您平倉。",
        ),
        "force_call": (
            "帳戶 {account} 緊急追加保證金通知",
            "{name} 您好：\n\n您的帳戶 {account} 的淨資產已跌至強制平倉水平（淨資產比率 {ratio}），應追繳金額港幣 "
            "{call_amount}。我們可能隨時為您平倉以恢復保證金，請立即存入資金。\n\n{broker}",
            "{broker}：帳戶 {account} 已跌至強制平倉水平，應追繳港幣 {call_amount}，我們可能隨時平倉，請立即存入資金。",
        ),
        "daily": (
            "提示：帳戶 {account} 仍需追加保證金",
            "{name} 您好：\n\n您的帳戶 {account} 仍需追加保證金港幣 {call_amount}（類型：{type}），淨資產比率 "
            "{ratio}。截止時間為香港時間 {deadline}。\n\n{broker}",
            "{broker}：提示，帳戶 {account} 仍需追加保證金港幣 {call_amount}，截止 {deadline}。",
        ),
        "debit": (
            "帳戶 {account} 欠款通知",
            "{name} 您好：\n\n您的帳戶 {account} 出現欠款且並無持倉，請於香港時間 {deadline} 前存入港幣 "
            "{call_amount}。\n\n{broker}",
            "{broker}：帳戶 {account} 出現欠款且無持倉，請於 {deadline} 前存入港幣 {call_amount}。",
        ),
        "manual": (
            "關於您的帳戶 {account}",
            "{name} 您好：\n\n關於您帳戶 {account} 的追加保證金（港幣 {call_amount}，截止 {deadline}），"
            "請與我們的風險管理部聯繫。\n\n{broker}",
            "{broker}：關於帳戶 {account} 的追加保證金（港幣 {call_amount}），請與我們的風險管理部聯繫。",
        ),
        "liquidation": (
            "帳戶 {account} 平倉通知",
            "{name} 您好：\n\n為滿足您帳戶 {account} 的追加保證金（港幣 {call_amount}），我們已下單賣出或買回持倉。"
            "成交後您將收到成交單據。\n\n{broker}",
            "{broker}：為滿足帳戶 {account} 的追加保證金，我們已下達平倉指令。",
        ),
        "recovery": (
            "帳戶 {account} 需交還股票",
            "{name} 您好：\n\n您的帳戶 {account} 須於香港時間 {due} 前買回或交付 {stock} 共 {quantity} 股。"
            "逾期我們可能為您買回。\n\n{broker}",
            "{broker}：帳戶 {account} 須於 {due} 前買回 {stock} {quantity} 股，否則我們可能為您買回。",
        ),
        "covered_call": (
            "帳戶 {account} 備兌認購期權所需股票",
            "{name} 您好：\n\n您的帳戶 {account} 已沽出 {stock} 的認購期權，但所持股票不足以備兌，尚欠 {stock} "
            "{quantity} 股。請於香港時間 {due} 前存入或買入該批股票，或平倉所沽出的認購期權。逾期我們可能為您買入。"
            "\n\n{broker}",
            "{broker}：帳戶 {account} 沽出的認購期權尚欠 {stock} {quantity} 股備兌，請於 {due} 前存入或買入，"
            "或平倉認購期權，否則我們可能為您買入。",
        ),
    },
}


def default_templates():
    """(kind, channel, language, subject, body) of every default template."""
    for language, kinds in TEXTS.items():
        for kind, (subject, email, short) in kinds.items():
            yield kind, "email", language, subject, email
            yield kind, "sms", language, "", short
            yield kind, "voice", language, "", short
