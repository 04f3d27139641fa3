package domain

import (
	"math/big"
	"strings"

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

// ParseRate reads a positive decimal such as "90.5".
func ParseRate(s string) (Rate, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() <= 0 || strings.ContainsAny(s, "/eE") {
		return nil, invalid("rate", "must be a positive decimal number such as 90.5")
	}
	if _, frac, _ := strings.Cut(strings.TrimSpace(s), "."); len(frac) > RateDigits {
		return nil, invalid("rate", "must have at most 12 digits after the point")
	}
	if r.Cmp(new(big.Rat).SetInt64(MaxRate)) > 0 {
		return nil, invalid("rate", "must be at most 1000000 units of the base currency")
	}
	return r, nil
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
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(shift))), nil))
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
