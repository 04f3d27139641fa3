package domain

import (
	"errors"
	"math/big"
	"strconv"
	"strings"

	cldr "github.com/bojanz/currency"
	"golang.org/x/text/currency"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// ParseCurrency reads an ISO 4217 code (any case) and returns it upper case.
func ParseCurrency(s string) (string, bool) {
	u, err := currency.ParseISO(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// MinorDigits is how many decimal places a currency's minor unit has (2 for
// RUB and USD, 0 for JPY, 3 for KWD).
func MinorDigits(code string) int {
	u, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// RateDigits is how many decimal places a rate keeps; MaxRate bounds a rate
// (no currency costs a million units of another).
const (
	RateDigits = 12
	MaxRate    = 1_000_000
)

// Rate is how many units of the base currency one unit of a currency costs.
type Rate = *big.Rat

// Why ParseRate refuses a rate.
var (
	ErrRateSyntax   = errors.New("a rate must be a positive decimal number such as 90.5")
	ErrRateDigits   = errors.New("a rate has at most 12 digits after the point")
	ErrRateTooLarge = errors.New("a rate is at most 1000000 units of the base currency")
)

// ParseRate reads a positive decimal such as "90.5".
func ParseRate(s string) (Rate, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() <= 0 || strings.ContainsAny(s, "/eE") {
		return nil, ErrRateSyntax
	}
	if _, frac, _ := strings.Cut(strings.TrimSpace(s), "."); len(frac) > RateDigits {
		return nil, ErrRateDigits
	}
	if r.Cmp(new(big.Rat).SetInt64(MaxRate)) > 0 {
		return nil, ErrRateTooLarge
	}
	return r, nil
}

// CheckRate reads the rate a client gives into v's field "rate"; a
// refusal says why, with the ceiling as money of the base currency written
// the tenant's way.
func CheckRate(v *apperr.Invalid, s, base, locale string) Rate {
	r, err := ParseRate(s)
	switch {
	case errors.Is(err, ErrRateTooLarge):
		ceiling := int64(MaxRate)
		for range MinorDigits(base) {
			ceiling *= 10
		}
		v.Add("rate", "must be at most "+FormatMoney(locale, ceiling, base)+" for one unit of the currency")
	case errors.Is(err, ErrRateDigits):
		v.Add("rate", "must have at most 12 digits after the point")
	case err != nil:
		v.Add("rate", "must be a positive decimal number in a string, such as \"90.5\"")
	case len(strings.TrimSpace(s)) > 40:
		v.Add("rate", "must be at most 40 characters")
	}
	return r
}

// FormatMoney writes minor units of a currency as the locale writes money
// (CLDR): "1 234 567,89 ₽" in ru (no-break spaces), "$1,234,567.89" in en.
// It shows exactly MinorDigits, the digits amounts are stored with: CLDR's
// newer data gives some currencies other digits (2 for IDR, 3 for IQD),
// which would move the point. An unknown locale writes it the English way;
// an unknown currency as a plain number with its code.
func FormatMoney(locale string, minor int64, code string) string {
	if _, err := currency.ParseISO(code); err != nil {
		return strconv.FormatInt(minor, 10) + " " + code
	}
	digits := MinorDigits(code)
	number := new(big.Rat).SetFrac(big.NewInt(minor), pow10(digits)).FloatString(digits)
	f := cldr.NewFormatter(cldr.NewLocale(locale))
	f.MinDigits, f.MaxDigits = uint8(digits), uint8(digits)
	if a, err := cldr.NewAmount(number, code); err == nil {
		return f.Format(a)
	}
	// A code CLDR no longer lists (a withdrawn currency such as FRF) has no
	// symbol: the locale's number, then the code.
	a, _ := cldr.NewAmount(number, "USD")
	f.CurrencyDisplay = cldr.DisplayNone
	return f.Format(a) + "\u00a0" + code
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// ToBase converts minor units of currency cur into minor units of the base
// currency at rate, rounding half away from zero; ok is false when the
// result does not fit 64 bits.
func ToBase(minor int64, cur, base string, rate Rate) (v int64, ok bool) {
	if cur == base {
		return minor, true
	}
	x := new(big.Rat).Mul(new(big.Rat).SetInt64(minor), rate)
	shift := MinorDigits(base) - MinorDigits(cur)
	p := new(big.Rat).SetInt(pow10(abs(shift)))
	if shift >= 0 {
		x.Mul(x, p)
	} else {
		x.Quo(x, p)
	}
	return roundRat(x)
}

// Weighted is amount × probability / 100, rounded half away from zero.
func Weighted(amount int64, probability int) int64 {
	n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(int64(probability)))
	v, _ := roundRat(new(big.Rat).SetFrac(n, big.NewInt(100))) // at most amount: it fits
	return v
}

func roundRat(v *big.Rat) (int64, bool) {
	num, den := new(big.Int).Set(v.Num()), v.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(r, big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q.Int64(), q.IsInt64()
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// ErrNoRate is a deal in a currency the tenant has no rate for: the board
// could not add it up.
func ErrNoRate(field, cur, base string) error {
	e := invalid(field, "no rate for "+cur+" in the base currency "+base+"; set one with POST /v1/currency-rates first").(*apperr.Error)
	e.Slug = "unknown-rate"
	return e
}
