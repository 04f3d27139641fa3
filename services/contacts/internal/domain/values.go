package domain

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones resolve on machines without /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Limits every record of the client base respects.
const (
	MaxNameLen   = 200
	MaxTextLen   = 200
	MaxLongText  = 1000
	MaxEmails    = 20
	MaxPhones    = 20
	MaxTags      = 50
	MaxTagLen    = 64
	MaxOwnerLen  = 200
	MaxEmailLen  = 254
	MaxSourceLen = 100
	MaxShares    = 100
)

// Settings are the tenant's defaults that normalisation depends on, and
// its limits.
type Settings struct {
	// DefaultCountry is the ISO 3166-1 alpha-2 region of phone numbers
	// written without a country code, e.g. "RU".
	DefaultCountry string
	// ContactFields and CompanyFields are the tenant's custom fields.
	ContactFields []FieldDef
	CompanyFields []FieldDef
	// LeadSources are the values a contact's source may take (none: any).
	LeadSources []string
	// ContactsQuota is how many live contacts the tenant may hold (its
	// record's quotas.contacts); 0 is no limit.
	ContactsQuota int64
}

// cleanText collapses white space and checks length and control characters.
func cleanText(v *apperr.Invalid, field, s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > max {
		v.Add(field, fmt.Sprintf("at most %d characters", max))
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		v.Add(field, "control characters are not allowed")
	}
	return s
}

func cleanOwner(v *apperr.Invalid, s string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		v.Add("owner_id", "an owner is required")
	case utf8.RuneCountInString(s) > MaxOwnerLen:
		v.Add("owner_id", fmt.Sprintf("at most %d characters", MaxOwnerLen))
	}
	return s
}

// cleanList normalises each item with norm, reports the ones it refuses
// under field/index, and drops repeats (after normalisation).
func cleanList(v *apperr.Invalid, field string, in []string, max int, what string, norm func(string) (string, string)) []string {
	if len(in) > max {
		v.Add(field, fmt.Sprintf("at most %d %s", max, what))
		return nil
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, raw := range in {
		s, problem := norm(raw)
		if problem != "" {
			v.Add(fmt.Sprintf("%s/%d", field, i), problem)
			continue
		}
		if k := strings.ToLower(s); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

// cleanName checks a user id or team name in a share.
func cleanName(raw string) (string, string) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "":
		return "", "cannot be empty"
	case utf8.RuneCountInString(s) > MaxOwnerLen:
		return "", fmt.Sprintf("at most %d characters", MaxOwnerLen)
	}
	return s, ""
}

func cleanEmails(v *apperr.Invalid, field string, in []string) []string {
	return cleanList(v, field, in, MaxEmails, "e-mail addresses", func(raw string) (string, string) {
		e, ok := NormalizeEmail(raw)
		if !ok {
			return "", fmt.Sprintf("%q is not an e-mail address", raw)
		}
		return e, ""
	})
}

func cleanPhones(v *apperr.Invalid, field string, in []string, s Settings) []string {
	return cleanList(v, field, in, MaxPhones, "phone numbers", func(raw string) (string, string) {
		p, err := NormalizePhone(raw, s.DefaultCountry)
		if err != nil {
			return "", err.Error()
		}
		return p, ""
	})
}

// cleanTags keeps tags in lower case, so that VIP and vip are one tag and a
// filter finds both.
func cleanTags(v *apperr.Invalid, in []string) []string {
	return cleanList(v, "tags", in, MaxTags, "tags", func(raw string) (string, string) {
		t := strings.ToLower(strings.Join(strings.Fields(raw), " "))
		switch n := utf8.RuneCountInString(t); {
		case n == 0:
			return "", "a tag cannot be empty"
		case n > MaxTagLen:
			return "", fmt.Sprintf("at most %d characters", MaxTagLen)
		}
		return t, ""
	})
}

// NormalizeEmail trims an address and lowercases it (the client base treats
// Anna@Example.RU and anna@example.ru as one address); ok is false when the
// input is not a bare addr-spec with a dotted domain.
func NormalizeEmail(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > MaxEmailLen {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", false
	}
	return strings.ToLower(s), true
}

// NormalizePhone parses a phone number as people write it and returns it in
// E.164 (+79121234567). A number without a country code is read in
// defaultCountry; without one, the country code is required.
func NormalizePhone(raw, defaultCountry string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("a phone number cannot be empty")
	}
	region := strings.ToUpper(defaultCountry)
	if !strings.HasPrefix(s, "+") && region == "" {
		return "", fmt.Errorf("%q has no country code; write it as +<country code> <number>", raw)
	}
	if n, ok := parseInternational(s); ok {
		return phonenumbers.Format(n, phonenumbers.E164), nil
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%q is not a valid phone number", raw)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// parseInternational is the fast path of phone parsing: a valid number
// written as "+", the country code and the national number, with nothing
// but spaces, dashes, dots and parentheses between the digits — what an
// E.164 value, and most client bases, hold. phonenumbers.Parse first runs a
// large regular expression for extensions (half the cost of a write that
// has a phone, and of an import); no extension can hide in such a string.
// Anything else, or an invalid result, goes the general way.
func parseInternational(s string) (*phonenumbers.PhoneNumber, bool) {
	if len(s) < 2 || s[0] != '+' {
		return nil, false
	}
	var digits [20]byte
	n := 0
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n == len(digits) {
				return nil, false
			}
			digits[n] = c
			n++
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return nil, false
		}
	}
	if n == 0 || digits[0] == '0' {
		return nil, false // no country code starts with 0; Parse refuses such numbers
	}
	for ccLen := 1; ccLen <= 3 && ccLen < n; ccLen++ {
		cc, _ := strconv.Atoi(string(digits[:ccLen]))
		if phonenumbers.GetRegionCodeForCountryCode(cc) == phonenumbers.UNKNOWN_REGION {
			continue
		}
		national := digits[ccLen:n]
		zeros := 0
		for zeros < len(national)-1 && national[zeros] == '0' {
			zeros++
		}
		nn, err := strconv.ParseUint(string(national), 10, 64)
		if err != nil {
			return nil, false
		}
		num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(nn)}
		if zeros > 0 {
			num.ItalianLeadingZero, num.NumberOfLeadingZeros = proto.Bool(true), proto.Int32(int32(zeros))
		}
		return num, phonenumbers.IsValidNumber(num)
	}
	return nil, false
}

// TimezoneOfPhone is the IANA zone of an E.164 number when the number
// belongs to exactly one: a geographic number (a landline, or a North
// American number, whose area code is a place even for a mobile), or a
// mobile of a country with one zone. A Russian mobile says nothing about
// where its owner lives (the phone data files every one under Moscow), so
// it gives none.
func TimezoneOfPhone(e164 string) (string, bool) {
	n, ok := parseInternational(e164)
	if !ok {
		var err error
		if n, err = phonenumbers.Parse(e164, ""); err != nil {
			return "", false
		}
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.PAGER, phonenumbers.VOIP, phonenumbers.UAN:
		if zones, _ := phonenumbers.GetTimezonesForPrefix(fmt.Sprintf("+%d", n.GetCountryCode())); len(zones) != 1 {
			return "", false
		}
	}
	return singleZone(e164)
}

// singleZone is the zone the phone data gives a number prefix, if just one.
func singleZone(prefix string) (string, bool) {
	zones, err := phonenumbers.GetTimezonesForPrefix(prefix)
	if err != nil || len(zones) != 1 || zones[0] == phonenumbers.UNKNOWN_TIMEZONE {
		return "", false
	}
	return zones[0], true
}

// TimezoneOfCountry is the IANA zone of a country that has only one.
func TimezoneOfCountry(country string) (string, bool) {
	code := phonenumbers.GetCountryCodeForRegion(country)
	if code == 0 {
		return "", false
	}
	// Countries sharing a calling code (+1, +7) have several zones between
	// them, so the code alone decides nothing there.
	if len(phonenumbers.GetRegionCodesForCountryCode(code)) != 1 {
		return "", false
	}
	return singleZone(fmt.Sprintf("+%d", code))
}

// ValidCountry reports whether c is an ISO 3166-1 alpha-2 code the phone
// library knows.
func ValidCountry(c string) bool { return phonenumbers.GetSupportedRegions()[c] }

var zones sync.Map // name → *time.Location

// LoadTimezone checks an IANA zone name; zones are parsed once.
func LoadTimezone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// stamp keeps times as PostgreSQL stores them (UTC, microseconds), so the
// answer to a write and a later read show the same instant.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func clone(s []string) []string { return append([]string{}, s...) }
