"""Assumption grammar, CONVENTIONS conversions and the Assumptions model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from absstruct.curves import (
    Assumptions,
    cpr_to_smm,
    parse_default,
    parse_prepay,
    parse_rate,
    parse_severity,
    smm_to_cpr,
)
from absstruct.errors import AssumptionError


@pytest.mark.parametrize(
    ("text", "month", "smm"),
    [
        ("ABS 2%", 11, 0.025),  # CONVENTIONS: 2% ABS at month 11 -> SMM 2.5%
        ("ABS 2%", 1, 0.02),
        ("ABS 1.5%", 21, 0.015 / (1 - 0.015 * 20)),
        ("SMM 1%", 7, 0.01),
        ("CPR 12%", 3, 1 - 0.88 ** (1 / 12)),
        ("PSA 100", 30, 1 - 0.94 ** (1 / 12)),
        ("PSA 150", 10, 1 - (1 - 0.03) ** (1 / 12)),
        ("CPR [5%, 6%, 8%]", 2, 1 - 0.94 ** (1 / 12)),
        ("CPR [5%, 6%, 8%]", 99, 1 - 0.92 ** (1 / 12)),  # padded with the last value
        ("CPR 10% x 2", 1, 1 - 0.8 ** (1 / 12)),
        ("CPR ramp 0% 6% 4", 3, 1 - 0.96 ** (1 / 12)),
        ("0.08", 5, 1 - 0.92 ** (1 / 12)),
    ],
)
def test_prepay_monthly_rates(text: str, month: int, smm: float) -> None:
    got = float(parse_prepay(text).monthly(np.array([month]))[0])
    assert got == pytest.approx(smm, rel=1e-12), f"{text} month {month}: {got} != {smm}"


@pytest.mark.parametrize(
    ("month", "cpr"),
    [(1, 0.002), (2, 0.004), (15, 0.03), (29, 0.058), (30, 0.06), (31, 0.06), (200, 0.06)],
)
def test_psa_ramp(month: int, cpr: float) -> None:
    assert parse_prepay("PSA 100").annual(np.array([month]))[0] == pytest.approx(cpr)


@pytest.mark.parametrize(
    ("month", "cdr"),
    [
        (1, 0.0002),
        (30, 0.006),
        (45, 0.006),
        (60, 0.006),
        (61, 0.005905),
        (120, 0.0003),
        (121, 0.0003),
        (300, 0.0003),
    ],
)
def test_sda_shape(month: int, cdr: float) -> None:
    assert parse_default("SDA 100").annual(np.array([month]))[0] == pytest.approx(cdr, abs=1e-12)
    assert parse_default("SDA 200").annual(np.array([month]))[0] == pytest.approx(2 * cdr)


@pytest.mark.parametrize(
    ("text", "annual"),
    [("CDR 3% x 1.5", 0.045), ("CDR 3%", 0.03), ("2%", 0.02), ("MDR 1%", 1 - 0.99**12)],
)
def test_default_annual(text: str, annual: float) -> None:
    assert parse_default(text).annual(np.array([5]))[0] == pytest.approx(annual)


def test_cumulative_default_timing() -> None:
    curve = parse_default("CUM 8% [25%, 25%, 50%]")
    assert curve.cumulative_targets(5).tolist() == pytest.approx([0.02, 0.02, 0.04, 0, 0])
    assert parse_default("CUM 6% over 3").cumulative_targets(3).sum() == pytest.approx(0.06)


@given(st.floats(min_value=0.0, max_value=0.5))
def test_smm_cpr_round_trip(smm: float) -> None:
    assert float(cpr_to_smm(smm_to_cpr(smm))) == pytest.approx(smm, abs=1e-10)
    assert 1 - float(smm_to_cpr(smm)) == pytest.approx((1 - smm) ** 12, abs=1e-12)


def test_severity_vector_and_scalar() -> None:
    assert parse_severity("[20%, 30%]").severity(np.array([1, 2, 9])).tolist() == [0.2, 0.3, 0.3]
    assert parse_severity(0.45).severity(np.array([1]))[0] == 0.45
    assert parse_rate("0.25%", where="servicing_fee") == pytest.approx(0.0025)


BAD = [
    ({"prepay": "CPR 120%"}, r"prepay: 'CPR 120%' CPR 1\.2 is above 100%"),
    ({"prepay": "CPR 8"}, r"prepay: 'CPR 8' .*above 100%"),
    ({"severity": "-5%"}, r"severity: '-5%' .*negative"),
    ({"severity": "150%"}, r"severity: '150%' severity 1\.5 is above 100%"),
    ({"prepay": "FOO 3"}, r"prepay: 'FOO 3' unknown curve 'FOO'; allowed here: SMM, CPR"),
    ({"default": "PSA 100"}, r"default: 'PSA 100' unknown curve 'PSA'; allowed here: MDR"),
    ({"prepay": "CPR [5%, abc]"}, r"prepay: .*'abc' is not a number"),
    ({"prepay": "CPR []"}, r"prepay: .*at least one value"),
    ({"lag": -1}, r"lag: -1 .*greater than or equal to 0"),
    ({"lag": "soon"}, r"lag: 'soon' .*integer"),
    ({"default": "CDR 3% x -2"}, r"default: .*(negative|not a number)"),
    ({"default": "CUM 5%"}, r"default: 'CUM 5%' CUM needs a timing"),
    ({"default": "CUM 5% [50%, 20%]"}, r"default: .*sum to 100%"),
    ({"prepay": "PSA 2000"}, r"prepay: 'PSA 2000' PSA 2000 implies an annual rate above 100%"),
    ({"prepay": "ABS 100%"}, r"prepay: .*ABS"),
    ({"servicing_fee": "abc"}, r"servicing_fee: 'abc' .*not a number"),
    ({"basis": "calendar"}, r"basis: 'calendar' .*'age' or 'period'"),
    ({"speed": 3}, r"speed: 3 is not a known assumption key"),
    ({"prepay": ""}, r"prepay: '' is empty"),
    ({"prepay": "CPR ramp 1% 2%"}, r"prepay: .*ramp START END MONTHS"),
    ({"segments": {"A": {"prepay": "CPR 1%"}}}, r"segment_by"),
    ({"holiday": {"share": "120%", "start": 1, "months": 3}}, r"holiday\.share: '120%'"),
]


@pytest.mark.parametrize(("values", "message"), BAD)
def test_bad_assumptions_name_the_input(values: dict, message: str) -> None:
    with pytest.raises(AssumptionError, match=message):
        Assumptions(**values)


def test_deal_table_errors_name_the_key_path() -> None:
    table = {"prepay": "ABS 1.5%", "default": "XDR 3%", "severity": "45%", "lag": -6}
    with pytest.raises(AssumptionError) as caught:
        Assumptions.from_mapping(table, where="pool.scenarios.stress")
    text = str(caught.value)
    assert "2 bad assumptions" in text
    assert "pool.scenarios.stress.default: 'XDR 3%' unknown curve 'XDR'" in text
    assert "pool.scenarios.stress.lag: -6" in text
    with pytest.raises(AssumptionError, match=r"pool\.assumptions\.segments\.A\.default"):
        Assumptions.from_mapping(
            {"segment_by": "grade", "segments": {"A": {"default": "CUM 5% over 3"}}},
            where="pool.assumptions",
        )


def test_model_is_frozen_keyword_and_toml_friendly() -> None:
    base = Assumptions.model_validate(
        {"prepay": "ABS 1.5%", "default": "CDR 3%", "severity": "45%", "lag": 6, "advance": False}
    )
    stress = base.merged({"default": "CDR 3% x 2"})
    assert (stress.prepay, stress.default, stress.lag) == ("ABS 1.5%", "CDR 3% x 2", 6)
    assert base.default == "CDR 3%"
    with pytest.raises(Exception, match="frozen"):
        base.lag = 3  # type: ignore[misc]
    dumped = stress.model_dump(exclude_defaults=True)
    assert all(isinstance(v, (str, int, float, bool)) for v in dumped.values())
    assert Assumptions.from_strings(prepay="PSA 150", default=None).default == 0.0
