"""Pool criteria: the [pool] table grammar, defaults, percent strings and error paths."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from absstruct.errors import DealError
from absstruct.pool.criteria import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    StratSpec,
    load_pool_criteria,
)

DEAL_POOL = """
[pool]
tape = "tapes/us_auto.csv"
template = "canonical"
cutoff = 2024-06-30
target_balance = 1_000_000

[[pool.eligibility]]
name = "current at cut-off"
column = "days_past_due"
equals = 0

[[pool.eligibility]]
name = "grade A-D"
column = "grade"
in = ["A", "B", "C", "D"]

[[pool.eligibility]]
name = "matures before legal final"
column = "maturity_date"
before = 2031-01-15

[[pool.eligibility]]
name = "balance band"
column = "current_balance"
between = [500, 200_000]

[[pool.eligibility]]
name = "rate cap"
column = "rate"
max = "24.5%"

[pool.concentration]
max_obligor = 0.005
max_region = "15%"
max_by = { grade = 0.30 }
top_obligors = { n = 10, max = 0.05 }

[pool.strats]
rate = [0.0, 0.1, 0.2]
numeric = { annual_income = [0, 50_000, 100_000] }
categorical = ["region"]
"""


def test_deal_pool_table_loads_every_key() -> None:
    table = tomllib.loads(DEAL_POOL)["pool"]
    criteria = load_pool_criteria(table)
    names = [rule.name for rule in criteria.eligibility]
    assert names == [
        "current at cut-off",
        "grade A-D",
        "matures before legal final",
        "balance band",
        "rate cap",
    ]
    assert criteria.eligibility[0].conditions() == {"equals": 0}
    assert criteria.eligibility[1].in_ == ("A", "B", "C", "D")
    assert criteria.eligibility[2].before == dt.date(2031, 1, 15)
    assert criteria.eligibility[3].between == (500, 200_000)
    assert criteria.eligibility[4].max == pytest.approx(0.245)
    limits = criteria.concentration
    assert limits is not None
    assert (limits.max_obligor, limits.max_region) == (0.005, pytest.approx(0.15))
    assert limits.max_by == {"grade": 0.30}
    assert limits.top_obligors is not None
    assert (limits.top_obligors.n, limits.top_obligors.max) == (10, 0.05)
    assert criteria.strats.rate == (0.0, 0.1, 0.2)
    assert criteria.strats.numeric == {"annual_income": (0, 50_000, 100_000)}
    assert criteria.strats.categorical == ("region",)
    assert criteria.effective_target == 1_000_000


def test_models_are_frozen_and_keyword_only() -> None:
    rule = EligibilityRule(name="x", column="rate", max=0.2)
    with pytest.raises(Exception, match="frozen"):
        rule.max = 0.3  # type: ignore[misc]
    assert rule.model_copy(update={"max": 0.3}).max == 0.3
    assert PoolCriteria().strats == StratSpec()
    assert PoolCriteria().eligibility == ()


def test_target_balance_inside_concentration_counts_once() -> None:
    criteria = load_pool_criteria({"concentration": {"target_balance": 5e6}})
    assert criteria.effective_target == 5e6
    with pytest.raises(DealError, match="target_balance given twice"):
        load_pool_criteria({"target_balance": 1e6, "concentration": {"target_balance": 5e6}})


def test_group_limits_order_is_fixed() -> None:
    limits = ConcentrationLimits(max_by={"product": 0.5, "grade": 0.3}, max_region=0.2)
    assert limits.group_limits() == (
        ("max_region", "region", 0.2),
        ("max_by.product", "product", 0.5),
        ("max_by.grade", "grade", 0.3),
    )


BAD_TABLES = [
    ({"eligibility": [{"name": "a", "column": "rate"}]}, r'eligibility\[0\] \("a"\): rule has no'),
    (
        {"eligibility": [{"name": "a", "column": "rate", "max": "high"}]},
        r'eligibility\[0\] \("a"\)\.max: \'high\' has the wrong type',
    ),
    (
        {"eligibility": [{"name": "a", "column": "rate", "min": 0.3, "max": 0.1}]},
        "lower bound 0.3 is above upper bound 0.1",
    ),
    (
        {"eligibility": [{"name": "a", "column": "rate", "between": [1]}]},
        r"\.between",
    ),
    (
        {"eligibility": [{"name": "a", "column": "rate", "between": [1, 2], "min": 0}]},
        "either between or min/max",
    ),
    ({"eligibility": [{"name": "a", "column": "g", "in": []}]}, r"\.in: needs at least one"),
    ({"eligibility": [{"column": "rate", "max": 1}]}, r"eligibility\[0\]\.name: is required"),
    (
        {"eligibility": [{"name": "a", "column": "rate", "max": 1, "maxx": 2}]},
        r"\.maxx: is not a known key",
    ),
    (
        {"eligibility": [{"name": "d", "column": "maturity_date", "before": "soon"}]},
        r"\.before: 'soon'",
    ),
    ({"eligibility": "grade"}, "must be an array of tables"),
    ({"concentration": {"max_region": 1.5}}, "max_region: 1.5 is above 100%"),
    ({"concentration": {"max_region": "150%"}}, "max_region: '150%' is above 100%"),
    ({"concentration": {"max_obligor": 0}}, "max_obligor: 0 is not above 0"),
    ({"concentration": {"max_by": {"grade": 2}}}, r"max_by\.grade: 2 is above 100%"),
    ({"concentration": {"top_obligors": {"n": 0, "max": 0.1}}}, r"top_obligors\.n: 0"),
    ({"concentration": {"max_regoin": 0.1}}, r"concentration\.max_regoin: is not a known key"),
    ({"strats": {"rate": [0.2, 0.1]}}, r"strats\.rate: edges \[0\.2, 0\.1\] are not strictly"),
    ({"target_balance": -5}, r"pool\.target_balance: -5"),
    ({"target_order": "biggest"}, r"pool\.target_order: 'biggest'"),
    ({"eligbility": []}, r"pool\.eligbility: is not a known key"),
]


@pytest.mark.parametrize(("table", "message"), BAD_TABLES)
def test_bad_tables_name_the_field_path(table: dict, message: str) -> None:
    with pytest.raises(DealError, match=message):
        load_pool_criteria(table)


def test_every_problem_is_collected_once() -> None:
    table = {
        "eligibility": [
            {"name": "a", "column": "rate"},
            {"name": "b", "column": "rate", "max": "x"},
        ],
        "concentration": {"max_region": 2},
        "strats": {"rate": []},
        "seed": "x",
    }
    with pytest.raises(DealError) as caught:
        load_pool_criteria(table, source="deal.toml")
    text = str(caught.value)
    assert text.startswith("deal.toml: 5 problems")
    assert len(caught.value.problems) == 5


def test_deal_level_keys_are_ignored() -> None:
    table = {k: "x" for k in ("tape", "template", "encoding", "sheet", "revolving")}
    assert load_pool_criteria(table) == PoolCriteria()
