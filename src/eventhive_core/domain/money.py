"""Money as integer minor units with an ISO 4217 currency; never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

#: Decimal places per currency (ISO 4217 minor unit). Unknown codes default to 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}


#: The most digits an amount in minor units may have (a signed 64-bit integer holds 18 in full).
MAX_MINOR_DIGITS = 18


def currency_exponent(currency: str) -> int:
    """Return how many decimal places ``currency`` allows.

    Examples:
        >>> currency_exponent("USD"), currency_exponent("JPY"), currency_exponent("KWD")
        (2, 0, 3)
    """
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


class CurrencyMismatch(ValueError):
    """Raised when two amounts in different currencies are combined."""


class TooManyDecimals(ValueError):
    """Raised when an amount has more decimal places than its currency allows."""


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money in minor units (cents for USD).

    Attributes:
        minor: The amount in the currency's smallest unit.
        currency: Upper-case ISO 4217 code.
    """

    minor: int
    currency: str = "USD"

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"Currency must be an upper-case ISO 4217 code, got {self.currency!r}")

    @classmethod
    def from_decimal(cls, amount: Decimal | int | str, currency: str = "USD") -> Money:
        """Build Money from a decimal amount in major units.

        Raises:
            TooManyDecimals: The amount has more decimal places than the currency allows (counted
                exactly, however many digits it has).
            ValueError: The amount is not a finite number, or has more than
                :data:`MAX_MINOR_DIGITS` digits in minor units.

        Examples:
            >>> Money.from_decimal(Decimal("10.10"))
            Money(minor=1010, currency='USD')
            >>> Money.from_decimal("500", "JPY").minor
            500
            >>> Money.from_decimal("19.9900000000000000000000000001")
            Traceback (most recent call last):
            ...
            eventhive_core.domain.money.TooManyDecimals: USD allows at most 2 decimal places
        """
        try:
            value = Decimal(amount)
        except (InvalidOperation, ValueError, TypeError) as exc:
            raise ValueError(f"Not a number: {amount!r}") from exc
        if not value.is_finite():
            raise ValueError(f"Not a finite number: {amount!r}")
        places = currency_exponent(currency)
        # Integer arithmetic on the exact digits: Decimal arithmetic rounds to the context's 28
        # significant digits, which would turn 0.00999...9 (31 digits) into an acceptable 0.01.
        sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite
        text = "".join(map(str, digits)).lstrip("0")
        significant = text.rstrip("0")
        if not significant:
            return cls(0, currency.upper())
        exponent += len(text) - len(significant)
        if exponent < -places:
            raise TooManyDecimals(f"{currency} allows at most {places} decimal places")
        shift = exponent + places
        if len(significant) + shift > MAX_MINOR_DIGITS:
            raise ValueError(f"Amount too large: {amount!r}")
        minor = int(significant) * 10**shift
        return cls(-minor if sign else minor, currency.upper())

    def to_decimal(self) -> Decimal:
        """Return the amount in major units.

        Examples:
            >>> Money(1010).to_decimal()
            Decimal('10.10')
        """
        exponent = currency_exponent(self.currency)
        return Decimal(self.minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))

    def __mul__(self, factor: int) -> Money:
        return Money(self.minor * factor, self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"
