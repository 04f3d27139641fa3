package domain

import (
	"math"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cldr "github.com/bojanz/currency"
	"github.com/google/uuid"
	"golang.org/x/text/currency"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/sales/api"
)

func TestToBaseConvertsMinorUnitsExactly(t *testing.T) {
	rate := func(s string) Rate {
		r, err := ParseRate(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		minor     int64
		cur, base string
		rate      string
		want      int64
	}{
		{10000, "EUR", "RUB", "90.5", 905000},     // 100.00 EUR → 9 050.00 RUB
		{1000, "JPY", "RUB", "0.6", 60000},        // 1 000 JPY (no minor unit) → 600.00 RUB
		{1, "KWD", "USD", "3.25", 0},              // 0.001 KWD → 0.325 cents → 0
		{1000, "KWD", "USD", "3.25", 325},         // 1.000 KWD → 3.25 USD
		{150, "USD", "JPY", "151.337", 227},       // 1.50 USD → 227.0055 JPY → 227
		{5, "EUR", "RUB", "0.1", 1},               // 0.05 × 0.1 = 0.005 RUB → 0.5 kopeck → 1 (half away from zero)
		{-5, "EUR", "RUB", "0.1", -1},             // and symmetric below zero
		{123456789, "RUB", "RUB", "1", 123456789}, // the base currency is itself
		{999_999_999_999, "EUR", "RUB", "100", 99_999_999_999_900},
	} {
		got, ok := ToBase(tc.minor, tc.cur, tc.base, rate(tc.rate))
		if got != tc.want || !ok {
			t.Errorf("%d %s at %s → %s: have %d, want %d", tc.minor, tc.cur, tc.rate, tc.base, got, tc.want)
		}
	}
}

func TestToBaseSaysWhenTheResultDoesNotFit(t *testing.T) {
	r, _ := ParseRate("1000000")
	if _, ok := ToBase(1_000_000_000_000_000, "JPY", "KWD", r); ok {
		t.Error("10^15 JPY at 10^6 KWD each, in fils, fit in 64 bits?")
	}
	if _, err := ParseRate("1000000.000000000001"); err == nil {
		t.Error("a rate over 10^6 was accepted")
	}
}

func TestWeightedRoundsHalfAwayFromZeroWithoutOverflow(t *testing.T) {
	for _, tc := range []struct {
		amount int64
		prob   int
		want   int64
	}{{150, 25, 38}, {149, 25, 37}, {2, 25, 1}, {1, 49, 0}, {200_000_000_000_000_000, 50, 100_000_000_000_000_000}, {math.MaxInt64 / 2, 100, math.MaxInt64 / 2}} {
		if got := Weighted(tc.amount, tc.prob); got != tc.want {
			t.Errorf("Weighted(%d, %d) = %d, want %d", tc.amount, tc.prob, got, tc.want)
		}
	}
}

func TestParseRateTakesPositiveDecimalsOnly(t *testing.T) {
	for _, ok := range []string{"90.5", "1", "0.000000000001", " 12.25 "} {
		if _, err := ParseRate(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0", "-1", "abc", "1/3", "1e3", "0.0000000000001", "NaN", "Inf"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseCurrencyKnowsISO4217(t *testing.T) {
	if c, ok := ParseCurrency(" eur "); !ok || c != "EUR" {
		t.Errorf("eur → %q %v", c, ok)
	}
	for _, bad := range []string{"", "EURO", "XYZ", "12"} {
		if _, ok := ParseCurrency(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if MinorDigits("JPY") != 0 || MinorDigits("KWD") != 3 || MinorDigits("RUB") != 2 {
		t.Errorf("minor digits JPY %d KWD %d RUB %d", MinorDigits("JPY"), MinorDigits("KWD"), MinorDigits("RUB"))
	}
}

func TestStageTimesAddUpRepeatedVisits(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	moves := []Move{{ToStageID: a, At: t0}, {ToStageID: b, At: t0.Add(time.Hour)}, {ToStageID: a, At: t0.Add(3 * time.Hour)}}
	got := StageTimes(moves, t0.Add(4*time.Hour))
	if len(got) != 2 || got[0] != (StageTime{a, 7200}) || got[1] != (StageTime{b, 7200}) {
		t.Errorf("stage times %v", got)
	}
}

func TestPipelineKeepsAnOpenStage(t *testing.T) {
	won, lost := "won", "lost"
	w, l := "Won", "Lost"
	if _, err := NewPipeline(uuid.New(), "P", []StageSpec{{Name: &w, Kind: &won}, {Name: &l, Kind: &lost}}, "en", time.Now()); err == nil {
		t.Error("a pipeline without an open stage was made")
	}
	p, err := NewPipeline(uuid.New(), "P", nil, "en", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.stages[:3] {
		if err := p.RemoveStage(st.ID, uuid.Nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.RemoveStage(p.stages[0].ID, uuid.Nil); err != ErrLastOpenStage {
		t.Errorf("removing the last open stage: %v", err)
	}
	if _, err := p.ChangeStage(p.stages[0].ID, StageSpec{Kind: &won}); err != ErrLastOpenStage {
		t.Errorf("re-kinding the last open stage: %v", err)
	}
}

func TestFormatMoneyWritesTheLocalesWay(t *testing.T) {
	const nbsp = "\u00a0"
	for _, tc := range []struct {
		locale, currency string
		minor            int64
		want             string
	}{
		{"ru", "RUB", 123456789, "1" + nbsp + "234" + nbsp + "567,89" + nbsp + "₽"},
		{"ru-RU", "RUB", 150000, "1" + nbsp + "500,00" + nbsp + "₽"},
		{"ru", "USD", 150000, "1" + nbsp + "500,00" + nbsp + "$"},
		{"ru", "JPY", 150000, "150" + nbsp + "000" + nbsp + "¥"},
		{"en", "USD", 123456789, "$1,234,567.89"},
		{"en", "RUB", 150000, "RUB" + nbsp + "1,500.00"},
		{"en", "KWD", 150000, "KWD" + nbsp + "150.000"},
		{"", "USD", 150000, "$1,500.00"},
		{"ru", "ZZZ", 150000, "150000 ZZZ"},
	} {
		if have := FormatMoney(tc.locale, tc.minor, tc.currency); have != tc.want {
			t.Errorf("%s %d %s: have %q, want %q", tc.locale, tc.minor, tc.currency, have, tc.want)
		}
	}
}

// Amounts are stored with golang.org/x/text's minor digits, and CLDR's newer
// data in github.com/bojanz/currency disagrees for some currencies (IDR 0
// against 2, IQD 0 against 3) or no longer lists them: for every such
// currency, the amount written is the amount stored, with exactly its digits.
func TestFormatMoneyShowsTheDigitsAmountsAreStoredWith(t *testing.T) {
	codes := map[string]bool{}
	for _, c := range cldr.GetCurrencyCodes() {
		codes[c] = true
	}
	for it := currency.Query(currency.Historical, currency.NonTender); it.Next(); {
		codes[it.Unit().String()] = true
	}
	var disagree []string
	for c := range codes {
		if _, ok := ParseCurrency(c); !ok {
			continue
		}
		if d, ok := cldr.GetDigits(c); !ok || int(d) != MinorDigits(c) {
			disagree = append(disagree, c)
		}
	}
	slices.Sort(disagree)
	for _, named := range []string{"COP", "IDR", "IQD", "PKR", "RSD"} {
		if !slices.Contains(disagree, named) {
			t.Fatalf("%s is not among the currencies whose digits differ (%v): the libraries changed; revisit FormatMoney", named, disagree)
		}
	}
	number := regexp.MustCompile(`[0-9][0-9,]*(\.[0-9]+)?`)
	for _, code := range disagree {
		for _, minor := range []int64{150000, 123456789, 7} {
			d := MinorDigits(code)
			want := new(big.Rat).SetFrac(big.NewInt(minor), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)).FloatString(d)
			have := FormatMoney("en", minor, code)
			if got := strings.ReplaceAll(number.FindString(have), ",", ""); got != want {
				t.Errorf("%d minor units of %s (%d digits): have %q, want the number %s", minor, code, d, have, want)
			}
		}
	}
	t.Logf("%d currencies whose digits differ: %v", len(disagree), disagree)

	// The API document names the current ones (those CLDR still lists), so
	// that a client reads their amounts with sales' digits, not ISO 4217's.
	var current []string
	for _, c := range disagree {
		if cldr.IsValid(c) {
			current = append(current, c)
		}
	}
	listed := regexp.MustCompile(`as ISO 4217 says, except that ([A-Z, ]+) and ([A-Z]{3}) have none here`).FindSubmatch(api.OpenAPI)
	if listed == nil {
		t.Fatal("the API document does not list the currencies whose digits differ from ISO 4217")
	}
	have := append(strings.Split(string(listed[1]), ", "), string(listed[2]))
	if !slices.Equal(have, current) {
		t.Errorf("the API document lists %v, want %v", have, current)
	}

	const nbsp = "\u00a0"
	for _, tc := range []struct {
		locale, currency string
		minor            int64
		want             string
	}{
		{"ru", "IDR", 150000, "150" + nbsp + "000" + nbsp + "IDR"},
		{"ru", "IQD", 150000, "150" + nbsp + "000" + nbsp + "IQD"},
		{"en", "COP", 150000, "COP" + nbsp + "150,000"},
		{"ru", "FRF", 150000, "1" + nbsp + "500,00" + nbsp + "FRF"},
		{"en", "FRF", 150000, "1,500.00" + nbsp + "FRF"},
	} {
		if have := FormatMoney(tc.locale, tc.minor, tc.currency); have != tc.want {
			t.Errorf("%s %d %s: have %q, want %q", tc.locale, tc.minor, tc.currency, have, tc.want)
		}
	}
	// The ceiling of a rate is a million units of the base currency.
	var v apperr.Invalid
	CheckRate(&v, "1000001", "IDR", "ru")
	if have, want := fieldMessage(v.Err(), "rate"), "must be at most 1"+nbsp+"000"+nbsp+"000"+nbsp+"IDR for one unit of the currency"; have != want {
		t.Errorf("IDR rate ceiling: have %q, want %q", have, want)
	}
}

// Amounts in a refusal are written as the tenant writes money.
func TestMessagesWriteMoneyTheTenantsWay(t *testing.T) {
	const nbsp = "\u00a0"
	for _, tc := range []struct {
		locale, base string
		wantAmount   string
		wantRate     string
	}{
		{"ru", "RUB", "(150000 is 1" + nbsp + "500,00" + nbsp + "₽)",
			"must be at most 1" + nbsp + "000" + nbsp + "000,00" + nbsp + "₽ for one unit of the currency"},
		{"en", "USD", "(150000 is $1,500.00)", "must be at most $1,000,000.00 for one unit of the currency"},
	} {
		p := UnmarshalPipelineFromDatabase(uuid.New(), uuid.New(), "Sales", []Stage{{ID: uuid.New(), Name: "New", Kind: KindOpen}}, 1, time.Now(), time.Now())
		title := "x"
		_, err := NewDeal(uuid.New(), DealPatch{Title: &title, Amount: &AmountChange{Minor: -1}}, p, nil, tc.base, tc.locale, nil, time.Now())
		if have := fieldMessage(err, "amount"); !strings.HasSuffix(have, tc.wantAmount) {
			t.Errorf("%s amount: have %q, want it to end %q", tc.locale, have, tc.wantAmount)
		}
		var v apperr.Invalid
		CheckRate(&v, "1000001", tc.base, tc.locale)
		if have := fieldMessage(v.Err(), "rate"); have != tc.wantRate {
			t.Errorf("%s rate: have %q, want %q", tc.locale, have, tc.wantRate)
		}
	}
}

func fieldMessage(err error, field string) string {
	e, ok := apperr.As(err)
	if !ok {
		return ""
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}
