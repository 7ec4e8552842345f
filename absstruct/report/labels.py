"""English and Chinese labels for every sheet, column and term the reports show.

One dictionary: ``LABELS[key] = (english, chinese)``.  Writers never spell a label
themselves; they call :func:`label` with a key and the language, so ``--lang zh``
changes the words and nothing else (numbers are identical).  Unknown keys fall back to
a readable form of the key, so a new ledger column still gets a header.

Examples
--------
>>> label("wal", "en"), label("wal", "zh")
('WAL (years)', '加权平均期限(年)')
>>> tranche_label("A", "zh"), tranche_label("Senior A", "zh"), tranche_label("Sub", "zh")
('A档', '优先A档', '次级档')
>>> label("some_new_column", "en")
'Some new column'
"""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["en", "zh"]
LANGS: tuple[str, ...] = ("en", "zh")

LABELS: dict[str, tuple[str, str]] = {
    # sheets (each at most 31 characters, none of []:*?/\)
    "sheet.summary": ("Summary", "概要"),
    "sheet.charts": ("Charts", "图表"),
    "sheet.pool": ("Pool", "资产池"),
    "sheet.strats": ("Strats", "分层统计"),
    "sheet.exclusions": ("Exclusions", "剔除资产"),
    "sheet.collateral": ("Collateral", "基础资产现金流"),
    "sheet.tranches": ("Tranches", "证券现金流"),
    "sheet.waterfall": ("Waterfall", "现金流分配"),
    "sheet.accounts": ("Accounts & triggers", "账户与触发事件"),
    "sheet.scenarios": ("Scenarios", "情景分析"),
    "sheet.assumptions": ("Assumptions", "假设"),
    # block titles
    "block.deal": ("Deal", "交易"),
    "block.scenario": ("Scenario and assumptions", "情景与假设"),
    "block.pool_summary": ("Pool summary", "资产池概况"),
    "block.tranches": ("Tranches", "证券分层"),
    "block.triggers": ("Trigger status", "触发事件状态"),
    "block.residual": ("Residual", "剩余收益"),
    "block.exclusions": ("Exclusion summary", "剔除汇总"),
    "block.excluded_loans": ("Excluded loans", "剔除贷款明细"),
    "block.accounts": ("Accounts by period", "账户余额(按期)"),
    "block.trigger_tests": ("Trigger tests by period", "触发事件测试(按期)"),
    "block.grid": ("Scenario grid", "情景矩阵"),
    "block.grid_yield": ("Yield by scenario", "各情景到期收益率"),
    "block.grid_wal": ("WAL by scenario", "各情景加权平均期限"),
    "block.grid_loss": ("Loss by scenario", "各情景损失率"),
    "block.grid_shortfall": ("Largest interest shortfall by scenario", "各情景最大利息差额"),
    "block.grid_residual_irr": ("Residual IRR by scenario", "各情景次级档内部收益率"),
    "block.pricing": ("Pricing", "定价"),
    "block.curves": ("Curves as used, by period", "各期假设曲线"),
    # chart titles
    "chart.balances": ("Tranche balances", "各档证券余额"),
    "chart.collections": ("Collections by type", "回收款构成"),
    "chart.cum_loss": ("Cumulative loss vs trigger", "累计损失率与触发阈值"),
    "chart.grid_yield": ("Yield by scenario", "各情景到期收益率"),
    # deal facts
    "deal_name": ("Deal", "交易名称"),
    "currency": ("Currency", "币种"),
    "cutoff_date": ("Cut-off date", "初始起算日"),
    "closing_date": ("Closing date", "信托设立日"),
    "settlement_date": ("Settlement date", "结算日"),
    "first_payment_date": ("First payment date", "首个支付日"),
    "payment_frequency": ("Payment frequency", "支付频率"),
    "day_count": ("Day count", "计息基准"),
    "compounding": ("Yield compounding", "收益率复利方式"),
    "original_pool_balance": ("Original pool balance", "初始资产池余额"),
    "scenario": ("Scenario", "情景"),
    "prepayment": ("Prepayment", "早偿假设"),
    "prepay": ("Prepayment", "早偿假设"),
    "lag": ("Recovery lag (months)", "回收滞后(月)"),
    "advance": ("Servicer advances", "服务商垫款"),
    "residual_paid": ("Residual paid", "剩余收益分配"),
    "pdl_cured": ("PDL cured", "本金亏损补足"),
    # waterfall column kinds ("A-1 interest" -> "A-1 利息")
    "step.interest": ("interest", "利息"),
    "step.deposit": ("deposit", "存入"),
    "step.principal": ("principal", "本金"),
    "step.residual": ("residual", "剩余收益"),
    "pdl_credited": ("PDL credited by recoveries", "违约回收冲减"),
    "metric": ("Measure", "测试指标"),
    "default": ("Default", "违约假设"),
    "severity": ("Loss severity", "损失率"),
    "recovery_lag": ("Recovery lag (months)", "回收滞后(月)"),
    "servicing_fee_rate": ("Servicing fee", "服务费率"),
    "residual_irr": ("Residual IRR", "次级档内部收益率"),
    "clean_up_call": ("Clean-up call", "清仓回购"),
    # pool summary
    "loan_count": ("Loans", "贷款笔数"),
    "balance": ("Balance", "余额"),
    "current_balance": ("Current balance", "当前余额"),
    "original_balance": ("Original balance", "初始余额"),
    "wac": ("WAC", "加权平均利率"),
    "wam": ("WAM (months)", "加权平均剩余期限(月)"),
    "wa_seasoning": ("WA seasoning (months)", "加权平均账龄(月)"),
    "wa_score": ("WA score", "加权平均信用评分"),
    "average_balance": ("Average balance", "平均余额"),
    "max_balance": ("Largest balance", "最大单笔余额"),
    "excluded_count": ("Excluded loans", "剔除笔数"),
    "excluded_balance": ("Excluded balance", "剔除余额"),
    "failed_count": ("Loans failing", "不满足笔数"),
    "failed_balance": ("Balance failing", "不满足余额"),
    "first_rule": ("First reason", "首要剔除原因"),
    "stage": ("Stage", "阶段"),
    "column": ("Column", "字段"),
    "wa_original_term": ("WA original term (months)", "加权平均合同期限(月)"),
    "top10_obligor_share": ("Top 10 obligors", "前十大借款人占比"),
    "grade_mix": ("Grade", "等级分布"),
    "score_mix": ("Score", "评分分布"),
    "dpd_mix": ("Days past due", "逾期天数分布"),
    "amortization_mix": ("Amortization", "还款方式分布"),
    "pct_balance": ("% of balance", "余额占比"),
    "pct_count": ("% of count", "笔数占比"),
    "count": ("Count", "笔数"),
    "bucket": ("Bucket", "分层"),
    "strat": ("Stratification", "分层维度"),
    "rule": ("Rule", "规则"),
    "value": ("Value", "取值"),
    "loan_id": ("Loan id", "贷款编号"),
    "loans": ("Loans", "笔数"),
    # tranche table
    "tranche": ("Tranche", "证券档次"),
    "class": ("Class", "类别"),
    "size": ("Size", "发行规模"),
    "pct_pool": ("% of pool", "占资产池比例"),
    "coupon": ("Coupon", "票面利率"),
    "credit_enhancement": ("Credit enhancement", "信用增级"),
    "price": ("Price", "价格"),
    "yield": ("Yield", "到期收益率"),
    "spread_bp": ("Spread (bp)", "利差(基点)"),
    "wal": ("WAL (years)", "加权平均期限(年)"),
    "window_start": ("Principal window start", "本金偿还起始期"),
    "window_end": ("Principal window end", "本金偿还结束期"),
    "modified_duration": ("Modified duration", "修正久期"),
    "loss_pct": ("Loss %", "损失率"),
    "kind": ("Kind", "类型"),
    "face": ("Face", "面额"),
    "quote": ("Quote", "报价方式"),
    "accrued": ("Accrued", "应计利息"),
    "dirty_price": ("Dirty price", "全价"),
    "convention": ("Convention", "计算惯例"),
    "flat_spread": ("Flat spread", "利差"),
    "i_spread": ("I-spread", "I利差"),
    "z_spread": ("Z-spread", "Z利差"),
    "first_principal_date": ("First principal date", "首次本金偿付日"),
    "last_principal_date": ("Last principal date", "末次本金偿付日"),
    "expected_final_date": ("Expected final payment", "预期最终偿付日"),
    "macaulay_duration": ("Macaulay duration", "麦考利久期"),
    "convexity": ("Convexity", "凸性"),
    "principal_loss_pct": ("Principal loss %", "本金损失率"),
    "max_interest_shortfall": ("Largest interest shortfall", "最大利息差额"),
    "residual_multiple": ("Residual multiple", "次级档回报倍数"),
    "residual_purchase_price": ("Residual purchase price", "次级档购买价格"),
    "residual_irr_convention": ("Residual IRR convention", "次级档收益率惯例"),
    "yield_convention": ("Yield convention", "收益率惯例"),
    "spread_compounding": ("Spread curve compounding", "利差曲线复利方式"),
    "scenario_number": ("No.", "序号"),
    "final_period": ("Final period", "最终偿付期"),
    # cash flows by period
    "period": ("Period", "期数"),
    "date": ("Date", "日期"),
    "beginning_balance": ("Beginning balance", "期初余额"),
    "ending_balance": ("Ending balance", "期末余额"),
    "interest_due": ("Interest due", "应付利息"),
    "interest_paid": ("Interest paid", "已付利息"),
    "interest_shortfall": ("Interest shortfall", "利息差额"),
    "principal": ("Principal paid", "已付本金"),
    "principal_paid": ("Principal paid", "已付本金"),
    "writedown": ("Writedown", "本金核销"),
    "cashflow": ("Total paid", "合计支付"),
    "factor": ("Factor", "余额因子"),
    "step": ("Step", "分配步骤"),
    "priority": ("Priority", "顺序"),
    "amount": ("Amount", "金额"),
    "due": ("Due", "应付"),
    "paid": ("Paid", "实付"),
    "shortfall": ("Shortfall", "差额"),
    "account": ("Account", "账户"),
    "deposit": ("Deposit", "存入"),
    "withdrawal": ("Withdrawal", "支取"),
    "target": ("Target", "目标余额"),
    "trigger": ("Trigger", "触发事件"),
    "threshold": ("Threshold", "阈值"),
    "breached": ("Breached", "是否触发"),
    "status": ("Status", "状态"),
    "first_breach_period": ("First breached in period", "首次触发期"),
    "cumulative_loss_pct": ("Cumulative loss %", "累计损失率"),
    # SIFMA pool columns
    "performing_balance": ("Performing balance", "正常资产余额"),
    "new_defaults": ("New defaults", "新增违约"),
    "in_foreclosure": ("In foreclosure", "处置中资产"),
    "capitalized_interest": ("Capitalized interest", "资本化利息"),
    "expected_amortization": ("Expected amortization", "预期摊还本金"),
    "voluntary_prepayments": ("Prepayments", "提前还款"),
    "amortization_from_defaults": ("Amortization from defaults", "违约资产摊还"),
    "actual_amortization": ("Scheduled principal", "正常摊还本金"),
    "expected_interest": ("Expected interest", "预期利息"),
    "interest_lost": ("Interest lost", "损失利息"),
    "actual_interest": ("Interest", "利息回收"),
    "servicing_fee": ("Servicing fee", "服务费"),
    "fee_income": ("Fee income", "手续费收入"),
    "principal_recovery": ("Recoveries", "违约回收"),
    "principal_loss": ("Losses", "损失"),
    "amortized_default_balance_in_recovery": ("Defaults liquidated", "违约资产处置额"),
    "principal_collections": ("Principal collections", "本金回收款"),
    "interest_collections": ("Interest collections", "收入回收款"),
    # curves
    "smm": ("SMM", "单月早偿率"),
    "cpr": ("CPR", "年化早偿率"),
    "mdr": ("MDR", "单月违约率"),
    "cdr": ("CDR", "年化违约率"),
    # deal vocabulary (CONVENTIONS.md)
    "senior": ("Senior", "优先"),
    "mezzanine": ("Mezzanine", "中间"),
    "subordinated": ("Subordinated", "次级档"),
    "excess_spread": ("Excess spread", "超额利差"),
    "reserve_account": ("Reserve account", "流动性储备账户"),
    "pdl": ("Principal deficiency ledger", "本金亏损记账"),
    "acceleration_event": ("Acceleration event", "加速清偿事件"),
    "event_of_default": ("Event of default", "违约事件"),
    "shortfall_undertaking": ("Shortfall payment undertaking", "差额支付承诺"),
    "revolving_period": ("Revolving period", "循环购买期"),
    "overcollateralization": ("Overcollateralization", "超额抵押"),
    "sequential": ("Sequential", "顺序偿付"),
    "pro_rata": ("Pro rata", "按比例偿付"),
    "vat": ("VAT", "增值税"),
    "senior_fees": ("Senior fees", "优先费用"),
    "trustee_fee": ("Trustee fee", "受托人报酬"),
    "residual": ("Residual", "剩余收益"),
    "true": ("Yes", "是"),
    "false": ("No", "否"),
    "pass": ("Pass", "未触发"),
    "fail": ("Breached", "已触发"),
    # static-pool history and back-test workbooks (history_workbook.py); "{...}" are filled in
    "sheet.history_fitted": ("Fitted curves", "拟合曲线"),
    "sheet.history_table": ("Vintage by age", "静态池账龄明细"),
    "sheet.history_by_vintage": ("By vintage", "分静态池"),
    "sheet.history_curves": ("Curves by age", "账龄曲线"),
    "history.title": ("Static-pool history", "静态池分析"),
    "history.backtest_title": ("Back-test", "回测"),
    "history.source": ("Tape", "资产数据"),
    "history.analysis": ("Analysis", "分析口径"),
    "history.vintage_unit": ("Vintage", "静态池划分"),
    "history.month": ("month of origination", "按发放月"),
    "history.quarter": ("quarter of origination", "按发放季度"),
    "history.segment_by": ("Segmented by", "分组依据"),
    "history.none": ("none", "不分组"),
    "history.chargeoff_lag": ("Charge-off lag (months)", "核销滞后(月)"),
    "history.as_of": ("Observed as of", "观察截止日"),
    "history.every_outcome": ("every outcome on the tape", "数据中全部结果"),
    "history.all": ("all", "全部"),
    "history.vintage_summary": ("Vintage summary", "静态池概况"),
    "history.fitted_summary": ("Fitted curves by segment", "分组拟合结果"),
    "history.fitted_curves": ("Fitted curves by age", "按账龄拟合曲线"),
    "history.vintage_table": ("Vintages by months on book", "静态池按账龄明细"),
    "history.approximations": ("Approximations", "近似处理说明"),
    "history.pivot": ("{measure} by vintage and months on book", "{measure}(按静态池与账龄)"),
    "history.chart_data": ("Chart data: {subset}", "图表数据:{subset}"),
    "history.subset_all": ("all {total} vintages", "全部{total}个静态池"),
    "history.subset_every": (
        "every {nth} vintage, {shown} of {total}; the table below holds all",
        "每{step}个静态池取1个,显示{shown}/{total}个;下表含全部静态池",
    ),
    "history.subset_short": ("{shown} of {total} vintages drawn", "显示{shown}/{total}个静态池"),
    "history.no_ages": (
        "No vintage has reached its first month on book by the observation date",
        "截至观察日尚无静态池满一个月账龄",
    ),
    "history.month_column": ("M{age}", "第{age}月"),
    "history.pct_of_original": ("% of original balance", "占初始余额比例"),
    "history.segment": ("Segment", "分组"),
    "history.vintage": ("Vintage", "静态池"),
    "history.age": ("Months on book", "账龄(月)"),
    "history.loans_performing": ("Loans performing", "正常笔数"),
    "history.scheduled_principal": ("Scheduled principal", "正常摊还本金"),
    "history.prepayments": ("Prepayments", "提前还款"),
    "history.defaults": ("Defaults", "违约金额"),
    "history.recoveries": ("Recoveries", "回收金额"),
    "history.net_recoveries": ("Net recoveries", "净回收金额"),
    "history.recovery_fees": ("Recovery fees", "回收费用"),
    "history.net_loss": ("Net loss", "净损失"),
    "history.principal_collected": ("Principal collected", "本金回收"),
    "history.cum_gross_default": ("Cumulative gross default", "累计违约率"),
    "history.cum_net_loss": ("Cumulative net loss", "累计净损失率"),
    "history.cum_prepayment": ("Cumulative prepayment", "累计早偿率"),
    "history.pool_factor": ("Pool factor", "资产池因子"),
    "history.months_observed": ("Months observed", "观察月数"),
    "history.seasoned": ("Seasoned", "已到期"),
    "history.gross_default_rate": ("Gross default rate", "累计违约率"),
    "history.net_loss_rate": ("Net loss rate", "累计净损失率"),
    "history.lifetime_default_rate": ("Lifetime default rate", "生命周期违约率"),
    "history.lifetime_method": ("Lifetime from", "生命周期估计方法"),
    "history.observed": ("observed", "实际观察"),
    "history.timing curve": ("timing curve", "按违约时间曲线外推"),
    "history.fitted curves": ("fitted curves", "拟合曲线"),
    "history.lifetime_default_observed": ("Lifetime default, seasoned", "已到期静态池违约率"),
    "history.lifetime_default_fitted": ("Lifetime default, fitted", "拟合生命周期违约率"),
    "history.reliable_ages": ("Reliable ages", "可靠账龄数"),
    "history.default_timing": ("Default timing", "违约时间分布"),
    "history.default_timing_cum": ("Cumulative default timing", "累计违约时间分布"),
    "history.reliable": ("Reliable", "数据充分"),
    "history.chart_cdr": ("CDR by months on book", "按账龄年化违约率"),
    "history.chart_cpr": ("CPR by months on book", "按账龄年化早偿率"),
    "history.chart_timing": ("Cumulative default timing", "累计违约时间分布"),
    "history.train_until": ("Fitted on loans originated up to", "拟合样本发放截止月"),
    "history.known_until": ("Training outcomes known until", "拟合样本观察截止日"),
    "history.test_loans": ("Loans projected", "预测贷款笔数"),
    "history.test_balance": ("Original balance projected", "预测贷款初始余额"),
    "history.fitted_on": ("Fitted on", "拟合样本"),
    "history.backtest_totals": (
        "Headline errors, all test vintages",
        "回测误差汇总(全部测试静态池)",
    ),
    "history.backtest_errors": ("Errors by vintage", "分静态池回测误差"),
    "history.backtest_net_loss": (
        "Lifetime net loss by vintage, % of original balance",
        "分静态池累计净损失率(占初始余额比例)",
    ),
    "history.backtest_curves": ("Cumulative net loss by age", "按账龄累计净损失率"),
    "history.chart_backtest_net_loss": ("Net loss: actual vs projected", "净损失率:实际与预测"),
    "history.chart_backtest_curve": ("{vintage}: actual vs projected", "{vintage}:实际与预测"),
    "history.metric": ("Metric", "指标"),
    "history.actual": ("Actual", "实际"),
    "history.projected": ("Projected", "预测"),
    "history.error": ("Error", "误差"),
    "history.actual_of": ("Actual {x}", "实际{x}"),
    "history.projected_of": ("Projected {x}", "预测{x}"),
    "history.error_of": ("Error {x}", "{x}误差"),
    "history.pct_of": ("{x}, % of original", "{x}占初始余额比例"),
    "history.mean_abs_vintage_error_pct": ("Mean abs. vintage error", "分静态池平均绝对误差"),
    "history.key": ("Segment / vintage", "分组/静态池"),
}

# Tranche names that translate as a whole (the word before a class letter, or alone).
_TRANCHE_WORDS: dict[str, str] = {
    "senior": "优先",
    "class": "",
    "mezzanine": "中间级",
    "mezz": "中间级",
    "junior": "次级",
}
_TRANCHE_ALONE: dict[str, str] = {
    "sub": "次级档",
    "subordinated": "次级档",
    "equity": "次级档",
    "residual": "次级档",
    "junior": "次级档",
    "senior": "优先档",
    "mezzanine": "中间级档",
}


def check_lang(lang: str) -> Lang:
    """Return ``lang`` if supported, else raise a ValueError naming the choices."""
    if lang not in LANGS:
        from absstruct.errors import AbsStructError

        raise AbsStructError(f"lang: {lang!r} is not a report language; use one of en, zh")
    return lang  # type: ignore[return-value]


def label(key: str, lang: str = "en") -> str:
    """The label for ``key`` in ``lang`` (a readable form of the key when unknown)."""
    pair = LABELS.get(key)
    if pair is None:
        text = key.replace("_", " ").strip()
        return text[:1].upper() + text[1:]
    return pair[1] if lang == "zh" else pair[0]


def tranche_label(name: str, lang: str = "en") -> str:
    """A tranche name as investors read it: ``Senior A`` -> ``优先A档`` in Chinese.

    English keeps the deal file's name unchanged.
    """
    if lang != "zh":
        return name
    words = name.strip().split()
    lowered = [w.lower() for w in words]
    if len(words) == 1 and lowered[0] in _TRANCHE_ALONE:
        return _TRANCHE_ALONE[lowered[0]]
    if len(words) == 2 and lowered[0] in _TRANCHE_WORDS:
        return f"{_TRANCHE_WORDS[lowered[0]]}{words[1]}档"
    if len(words) == 1 and re.fullmatch(r"[A-Za-z]\d?", words[0]):
        return f"{words[0]}档"
    return name


def header(key: str, lang: str, *, suffix: str = "") -> str:
    """A column header: the label of ``key`` with an optional qualifier (e.g. a tranche)."""
    text = label(key, lang)
    return f"{suffix} {text}" if suffix else text
