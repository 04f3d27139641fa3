package domain

import (
	"fmt"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The fast path of phone parsing must agree with phonenumbers.Parse on
// every number it takes, and leave the rest to it.
func TestParseInternationalAgreesWithParse(t *testing.T) {
	numbers := []string{
		"+7 912 345-67-89", "+7 (495) 111-22-33", "+74951112233", "+1 (415) 555-2671", "+1 212 555 0100",
		"+44 20 7946 0958", "+44 7911 123456", "+39 06 698 12345", "+39 335 123 4567", "+49 30 901820",
		"+33 1 42 68 53 00", "+375 29 123-45-67", "+380 44 123 4567", "+86 10 6552 9988", "+81 3-3224-5000",
		"+800 1234 5678", "+7 8 912 345 67 89", "+44 0 20 7946 0958", "+7 912", "+999 123 456", "+1 800 FLOWERS",
		"+7 912 345 67 89 ext 12", "+7 912 345 67 89 доб. 12", "+", "+0 123", "+7 912.345.67.89",
		"+07 912 000-00-00", "+0 7 912 000 00 00", "+001 212 555 0100",
	}
	for i := range 300 {
		numbers = append(numbers, fmt.Sprintf("+7 9%02d %07d", 10+i%80, i*7919), fmt.Sprintf("+1 %03d %03d %04d", 201+i, 200+i, i))
	}
	for _, s := range numbers {
		fast, ok := parseInternational(s)
		slow, err := phonenumbers.Parse(s, "")
		slowOK := err == nil && phonenumbers.IsValidNumber(slow)
		if !ok {
			continue // the general way decides
		}
		if !slowOK {
			t.Errorf("%q: fast path takes a number Parse refuses", s)
			continue
		}
		if f, w := phonenumbers.Format(fast, phonenumbers.E164), phonenumbers.Format(slow, phonenumbers.E164); f != w {
			t.Errorf("%q: fast %s, Parse %s", s, f, w)
		}
		if f, w := phonenumbers.GetNumberType(fast), phonenumbers.GetNumberType(slow); f != w {
			t.Errorf("%q: type %v, Parse %v", s, f, w)
		}
	}
	// The common shapes do take the fast path.
	for _, s := range []string{"+7 912 345-67-89", "+44 20 7946 0958", "+39 06 698 12345"} {
		if _, ok := parseInternational(s); !ok {
			t.Errorf("%q missed the fast path", s)
		}
	}
}
