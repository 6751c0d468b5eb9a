"""Money and rates as the contract writes them: amounts in the reporting currency, rates as `70%`.

Amounts become `Decimal` and rates exact fractions of one, so that a quota divided by a deal size
or a rate never picks up a binary rounding error that tips a `ceil` to the next whole lead.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")

# Circulating currencies of ISO 4217 (list one), plus a few replaced recently, since a contract
# naming the currency its books were kept in is not wrong; funds, metals and test codes are left out
# because nobody reports revenue in them.
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST
    XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())


def check_currency(value: Any) -> str:
    if not isinstance(value, str) or value not in ISO_4217:
        raise ValueError(f"expected an ISO 4217 currency code in capitals, such as USD, EUR or GBP, got {value!r}")
    return value


def parse_money(value: Any) -> Decimal:
    # YAML gives int or float; a string ("500k", "1,000") is refused rather than guessed at.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"expected an amount in the reporting currency, such as 500000 or 1250.50, got {value!r}")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"an amount must be zero or more, got {value!r}")
    return amount


def parse_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of zero or more, got {value!r}")
    return value


def parse_percent(value: Any) -> Decimal:
    """`70%` -> Decimal('0.70'). A bare number is refused: 0.7 and 70 are both plausible typos."""
    if isinstance(value, Decimal):
        return value
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"expected a percentage such as 70% or 92.5%, got {value!r}")
    percent = Decimal(match.group(1))
    if percent > 100:
        raise ValueError(f"a percentage is at most 100%, got {value!r}")
    return percent / 100


def _format_money(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _format_percent(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(_format_money)]
Count = Annotated[int, BeforeValidator(parse_count)]
Percent = Annotated[Decimal, BeforeValidator(parse_percent), PlainSerializer(_format_percent, return_type=str)]
