package domain_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func TestSniffCSV(t *testing.T) {
	cp1251, _ := charmap.Windows1251.NewEncoder().String("Имя;Почта\nАнна;a@b.ru\n")
	for name, tc := range map[string]struct {
		head  string
		enc   string
		delim rune
	}{
		"utf-8 commas":         {"first_name,last_name\nA,B\n", domain.EncodingUTF8, ','},
		"utf-8 with bom, tabs": {"\xEF\xBB\xBFfirst_name\tlast_name\n", domain.EncodingUTF8BOM, '\t'},
		"windows-1251, ;":      {cp1251, domain.Encoding1251, ';'},
		"quoted delimiters":    {`"a;b;c","d"` + "\n", domain.EncodingUTF8, ','},
		"one column":           {"first_name\nA\n", domain.EncodingUTF8, ','},
		// A multi-byte character cut at the end of the sniffed bytes is
		// still UTF-8.
		"cut character": {"Имя;Фамилия\nАнна;Ив"[:len("Имя;Фамилия\nАнна;Ив")-1], domain.EncodingUTF8, ';'},
	} {
		t.Run(name, func(t *testing.T) {
			enc, delim := domain.SniffCSV([]byte(tc.head))
			if enc != tc.enc || delim != tc.delim {
				t.Fatalf("have %s %q, want %s %q", enc, delim, tc.enc, tc.delim)
			}
		})
	}
}

func TestDecodeCSV(t *testing.T) {
	cp1251, _ := charmap.Windows1251.NewEncoder().String("Ёлка;Щука")
	for enc, in := range map[string]string{domain.Encoding1251: cp1251, domain.EncodingUTF8BOM: "\xEF\xBB\xBFЁлка;Щука",
		domain.EncodingUTF8: "Ёлка;Щука"} {
		out, err := io.ReadAll(domain.DecodeCSV(strings.NewReader(in), enc))
		if err != nil || string(out) != "Ёлка;Щука" {
			t.Errorf("%s: %q %v", enc, out, err)
		}
	}
}

func TestResolveHeader(t *testing.T) {
	defs := []domain.FieldDef{{Entity: domain.EntityContact, Key: "tier", Type: "enum"}}
	cols, err := domain.ResolveHeader(domain.ImportContacts, []string{"id", " First_Name ", "Почта", "custom.tier", "Заметка", "created_at"},
		map[string]string{"Почта": "emails", "Заметка": ""}, defs)
	if err != nil || fmt.Sprint(cols) != "[ first_name emails custom.tier  ]" {
		t.Fatalf("%q %v", cols, err)
	}
	for name, header := range map[string][]string{"unknown": {"first_name", "nick"}, "twice": {"emails", "Emails"},
		"nothing": {"id", "created_at"}, "custom field of no such key": {"custom.size"}} {
		if _, err := domain.ResolveHeader(domain.ImportContacts, header, nil, defs); err == nil {
			t.Errorf("%s: accepted %v", name, header)
		}
	}
}

func TestContactFieldsFromRow(t *testing.T) {
	defs := []domain.FieldDef{{Key: "size", Type: "number"}, {Key: "vip", Type: "boolean"}, {Key: "deal", Type: "money"},
		{Key: "langs", Type: "multi_enum"}}
	cols := []string{"first_name", "emails", "tags", "address.city", "company_id", "custom.size", "custom.vip", "custom.deal", "custom.langs", ""}
	f, errs := domain.ContactFieldsFromRow(cols, []string{" Анна ", "a@b.ru; c@d.ru", "vip,new", "Казань", "",
		"1 500,5", "да", "150000 RUB", "ru;en", "ignored"}, defs)
	if len(errs) != 0 || f.FirstName != "Анна" || fmt.Sprint(f.Emails) != "[a@b.ru c@d.ru]" || fmt.Sprint(f.Tags) != "[vip new]" ||
		f.Address.City != "Казань" || f.Custom["size"] != 1500.5 || f.Custom["vip"] != true ||
		fmt.Sprint(f.Custom["deal"]) != "map[amount:150000 currency:RUB]" || fmt.Sprint(f.Custom["langs"]) != "[ru en]" {
		t.Fatalf("%+v %v", f, errs)
	}
	_, errs = domain.ContactFieldsFromRow(cols, []string{"A", "", "", "", "not-a-uuid", "много", "может быть", "сто рублей", "", ""}, defs)
	if len(errs) != 4 || fmt.Sprintf("%d %s %s %s %s", len(errs), errs[0].Column, errs[1].Column, errs[2].Column, errs[3].Column) != "4 company_id custom.size custom.vip custom.deal" {
		t.Fatalf("errors: %v", errs)
	}
}

func TestColumnOf(t *testing.T) {
	for path, col := range map[string]string{"emails/1": "emails", "address/city": "address.city", "custom/tier": "custom.tier",
		"first_name": "first_name", "custom": "custom"} {
		if got := domain.ColumnOf(path); got != col {
			t.Errorf("%s: %s, want %s", path, got, col)
		}
	}
}
