package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Bounds of a search box.
const (
	MaxSearchLen   = 200
	MaxSearchWords = 10
)

// CheckSearch is the one rule of every search box, contacts' and
// companies' alike: q as typed has at most MaxSearchLen characters, reads
// as at most MaxSearchWords words, and, unless blank, holds something to
// search for (keys or words: punctuation alone would match everything). It
// reports what breaks the rule on the field "q".
func CheckSearch(v *apperr.Invalid, q string, keys, words []string) {
	if utf8.RuneCountInString(q) > MaxSearchLen {
		v.Add("q", fmt.Sprintf("at most %d characters", MaxSearchLen))
	}
	if len(words) > MaxSearchWords {
		v.Add("q", fmt.Sprintf("at most %d words", MaxSearchWords))
	}
	if strings.TrimSpace(q) != "" && len(keys) == 0 && len(words) == 0 {
		v.Add("q", "holds nothing to search for (only punctuation)")
	}
}

// Fold makes text comparable for search and sorting: lower case, accents
// and other combining marks dropped (so é is e, ё is е and й is и), white
// space collapsed. The database stores folded text and queries are folded
// the same way, which makes search case- and accent-insensitive in any
// script.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// SearchText is what a contact's search matches: its names, position,
// e-mails and the digits of its phones.
func (c *Contact) SearchText() string {
	parts := []string{c.f.FirstName, c.f.LastName, c.f.Position}
	parts = append(parts, c.f.Emails...)
	for _, p := range c.f.Phones {
		parts = append(parts, strings.TrimPrefix(p, "+"))
	}
	return Fold(strings.Join(parts, " "))
}

// SortName orders contacts by last name, then first name, folded. A
// contact read from the database answers with the key stored with it until
// it changes.
func (c *Contact) SortName() string {
	if c.storedSortName != nil {
		return *c.storedSortName
	}
	return Fold(c.f.LastName + " " + c.f.FirstName)
}

// WithStoredSortName records the sort key the database holds for c (for the
// repository: paging by name must continue from the stored key).
func (c *Contact) WithStoredSortName(s string) *Contact {
	c.storedSortName = &s
	return c
}

// SearchText is what a company's search matches: its names, tax and
// registration numbers, website and e-mails.
func (c *Company) SearchText() string {
	parts := []string{c.f.Name, c.f.LegalName, c.f.TaxID, c.f.RegistrationNumber, c.f.Website}
	parts = append(parts, c.f.Emails...)
	return Fold(strings.Join(parts, " "))
}

// SearchTerms reads what a user typed into a search box. An e-mail address
// or a phone number (in any format; national numbers in the tenant's
// country) becomes an exact channel key; everything else becomes folded
// words, each of which must occur in the text (a name prefix, a fragment,
// digits of a phone).
func SearchTerms(q string, s Settings) (keys, words []string) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, nil
	}
	if e, ok := NormalizeEmail(q); ok {
		// An address is looked up whole: its fragments (example.com) are
		// shared by too many contacts to say anything.
		return []string{"email:" + e}, nil
	}
	if looksLikePhone(q) {
		if p, err := NormalizePhone(q, s.DefaultCountry); err == nil {
			keys = append(keys, "phone:"+p)
		}
		// The digits also match as a fragment: the end of a number, or a
		// number written without its country code.
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, q)
		return keys, []string{digits}
	}
	return keys, SearchWords(q)
}

// SearchWords folds what a user typed into the words that must each occur
// in a record's search text.
func SearchWords(q string) []string {
	var words []string
	for _, w := range strings.Fields(Fold(q)) {
		w = strings.Trim(w, ",;()\"'«»")
		if w != "" {
			words = append(words, w)
		}
	}
	return words
}

// looksLikePhone: digits with the punctuation people write phones with,
// and at least three digits.
func looksLikePhone(q string) bool {
	digits := 0
	for _, r := range q {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+ -().", r):
		default:
			return false
		}
	}
	return digits >= 3
}
