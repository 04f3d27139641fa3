package domain_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

func TestReadImportHead(t *testing.T) {
	cp1251, _ := charmap.Windows1251.NewEncoder().String("Имя;Почта\nАнна;a@b.ru\n")
	u16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("Имя\tПочта\r\nАнна\ta@b.ru\r\n")
	u16be, _ := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().String("Имя,Почта\n")
	cp1251Row, _ := charmap.Windows1251.NewEncoder().String("Ёлкина,e@b.ru")
	for name, tc := range map[string]struct {
		head, stated string
		enc          string
		provisional  bool
		delim        rune
		header       string
	}{
		"utf-8 commas":         {"first_name,last_name\nA,B\n", "", domain.EncodingUTF8, true, ',', "[first_name last_name]"},
		"utf-8 with bom, tabs": {"\xEF\xBB\xBFfirst_name\tlast_name\n", "", domain.EncodingUTF8BOM, false, '\t', "[first_name last_name]"},
		"windows-1251, ;":      {cp1251, "", domain.Encoding1251, true, ';', "[Имя Почта]"},
		"utf-16le":             {u16, "", domain.EncodingUTF16LE, false, '\t', "[Имя Почта]"},
		"utf-16be, stated":     {u16be, "utf-16be", domain.EncodingUTF16BE, false, ',', "[Имя Почта]"},
		"stated koi8-r":        {"first_name\n", "koi8-r", domain.EncodingKOI8R, false, ',', "[first_name]"},
		"stated utf-8, a bom":  {"\xEF\xBB\xBFa\n", "utf-8", domain.EncodingUTF8BOM, false, ',', "[a]"},
		"quoted delimiters":    {`"a;b;c","d"` + "\n", "", domain.EncodingUTF8, true, ',', "[a;b;c d]"},
		"one column":           {"first_name\nA\n", "", domain.EncodingUTF8, true, ',', "[first_name]"},
		// A multi-byte character cut at the end of the first bytes is still
		// UTF-8.
		"cut character": {"Имя;Фамилия\nАнна;Ив"[:len("Имя;Фамилия\nАнна;Ив")-1], "", domain.EncodingUTF8, true, ';', "[Имя Фамилия]"},
		// A UTF-8 header is read as UTF-8 though a Windows-1251 row follows
		// it within the first bytes (UTF-8 "И" holds 0x98, no character in
		// Windows-1251; "Фамилия" would read as mojibake).
		"utf-8 header, cp1251 row":   {"Имя,Почта\nАнна,a@b.ru\n" + cp1251Row + "\n", "", domain.EncodingUTF8, true, ',', "[Имя Почта]"},
		"utf-8 header, cp1251 row 2": {"Фамилия,Почта\n" + cp1251Row + "\n", "", domain.EncodingUTF8, true, ',', "[Фамилия Почта]"},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := domain.ReadImportHead([]byte(tc.head), true, tc.stated)
			if err != nil || h.Encoding != tc.enc || h.Provisional != tc.provisional || h.Delimiter != tc.delim ||
				fmt.Sprint(h.Header) != tc.header {
				t.Fatalf("have %+v %v", h, err)
			}
		})
	}
	for name, tc := range map[string]struct{ head, stated, says string }{
		"empty":                {" \n\r\n", "", "empty"},
		"utf-32":               {"\xFF\xFE\x00\x00a\x00\x00\x00", "", "UTF-32LE"},
		"unknown encoding":     {"a\n", "latin-9", "one of"},
		"mark against stated":  {u16, "windows-1251", "UTF-16LE byte-order mark"},
		"utf-16 without mark":  {u16[2:], "", "UTF-16 without a byte-order mark"},
		"broken header":        {"\"a,b\nc\n", "", "never closed"},
		"bad byte, stated":     {"ab\xffc\n", "utf-8", "line 1, character 3"},
		"undefined in cp1252":  {"a,b\x81\n", "windows-1252", "byte 81"},
		"header past the head": {"a,b", "", "at most 64 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := domain.ReadImportHead([]byte(tc.head), name != "header past the head", tc.stated)
			if err == nil || !strings.Contains(fmt.Sprint(err, apperrFields(err)), tc.says) {
				t.Fatalf("have %v %v, want it to say %q", err, apperrFields(err), tc.says)
			}
		})
	}
}

// apperrFields are the messages of a validation error's fields.
func apperrFields(err error) []string {
	e, ok := apperr.As(err)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field+": "+f.Message)
	}
	return out
}

// The whole file decides a provisional encoding: UTF-8 when any line with
// bytes outside ASCII is UTF-8, else Windows-1251; the count of rows is
// every record after the header, broken ones included.
func TestScanImportFile(t *testing.T) {
	cp := func(s string) string { out, _ := charmap.Windows1251.NewEncoder().String(s); return out }
	ascii := "first_name\n" + strings.Repeat("Anna\n", 20000)
	for name, tc := range map[string]struct {
		file string
		rows int64
		enc  string
	}{
		"ascii":                     {"a\nb\n", 1, domain.EncodingUTF8},
		"utf-8 and one cp1251 line": {"a\nЮникод\n" + cp("Привет") + "\nЁж\n", 3, domain.EncodingUTF8},
		"cp1251 after 64 KiB":       {ascii + cp("Андрей") + "\n", 20001, domain.Encoding1251},
		"cp1251 header only":        {cp("Имя") + "\nAnna\n", 1, domain.Encoding1251},
		"broken rows count":         {"a\nGood1\nBad\"Quote\n\"Unclosed\nGood2\n\n", 4, domain.EncodingUTF8},
	} {
		t.Run(name, func(t *testing.T) {
			head, err := domain.ReadImportHead([]byte(tc.file)[:min(len(tc.file), domain.HeadSize)], len(tc.file) <= domain.HeadSize, "")
			if err != nil {
				t.Fatal(err)
			}
			rows, enc, err := domain.ScanImportFile(strings.NewReader(tc.file), head)
			if err != nil || rows != tc.rows || enc != tc.enc {
				t.Fatalf("have %d %s %v, want %d %s", rows, enc, err, tc.rows, tc.enc)
			}
		})
	}
	// A stated encoding stays.
	head, _ := domain.ReadImportHead([]byte("a\nЮ\n"), true, "windows-1251")
	if _, enc, _ := domain.ScanImportFile(strings.NewReader("a\nЮ\n"), head); enc != domain.Encoding1251 {
		t.Fatalf("stated: %s", enc)
	}
}

// Counting a file's records allocates per file, not per record: the upload
// reads every byte of files of millions of rows.
func TestScanImportFileAllocations(t *testing.T) {
	var file bytes.Buffer
	file.WriteString("first_name,last_name,emails\n")
	for i := range 10000 {
		fmt.Fprintf(&file, "Имя%d,\"Фамилия\n%d\",person%d@example.ru\n", i, i, i)
	}
	file.WriteString("\"Unclosed,x,y\n")
	head, err := domain.ReadImportHead(file.Bytes()[:domain.HeadSize], false, "")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if rows, _, err := domain.ScanImportFile(bytes.NewReader(file.Bytes()), head); err != nil || rows != 10001 {
			t.Fatal(rows, err)
		}
	})
	if allocs > 100 {
		t.Fatalf("%.0f allocations for 10,001 records", allocs)
	}
}

// Cells read as UTF-8 in each encoding; what is no character is reported
// by its offset and described.
func TestTextCell(t *testing.T) {
	cp1251, _ := charmap.Windows1251.NewEncoder().String("Ёлка")
	koi, _ := charmap.KOI8R.NewEncoder().String("Ёлка")
	for name, tc := range map[string]struct {
		enc, raw, want string
		bad            int
		says           string
	}{
		"utf-8":                 {domain.EncodingUTF8, "Ёлка", "Ёлка", -1, ""},
		"utf-8, replacement":    {domain.EncodingUTF8, "a\uFFFDb", "a\uFFFDb", -1, ""},
		"utf-8, cp1251 inside":  {domain.EncodingUTF8, "ok " + cp1251, "", 3, "A8 EB EA E0 are not UTF-8, the encoding of the rest of the file (as Windows-1251 they would read «Ёлка»)"},
		"utf-8, nul":            {domain.EncodingUTF8, "a\x00b", "", 1, "NUL"},
		"utf-8, nul then bad":   {domain.EncodingUTF8, "a\x00\xff", "", 1, "NUL"},
		"cp1251":                {domain.Encoding1251, cp1251, "Ёлка", -1, ""},
		"cp1251, ascii":         {domain.Encoding1251, "abc", "abc", -1, ""},
		"cp1251, undefined":     {domain.Encoding1251, "ab\x98", "", 2, "byte 98 is no character in windows-1251"},
		"koi8-r":                {domain.EncodingKOI8R, koi, "Ёлка", -1, ""},
		"utf-16 (as utf-8)":     {domain.EncodingUTF16LE, "Zoë", "Zoë", -1, ""},
		"utf-16, surrogate":     {domain.EncodingUTF16LE, "a\xED\xA0\xBDb", "", 1, "surrogate (D83D)"},
		"utf-16, half at end":   {domain.EncodingUTF16LE, "a\xFF", "", 1, "half a UTF-16 character"},
		"bytes run past twelve": {domain.EncodingUTF8, strings.Repeat("\xff", 14), "", 0, "FF FF FF FF FF FF FF FF FF FF FF FF …"},
	} {
		t.Run(name, func(t *testing.T) {
			text := domain.TextOf(tc.enc)
			have, bad := text.Cell(tc.raw)
			if bad != tc.bad || bad < 0 && have != tc.want {
				t.Fatalf("have %q %d, want %q %d", have, bad, tc.want, tc.bad)
			}
			if bad >= 0 && !strings.Contains(text.Bad(tc.raw, bad), tc.says) {
				t.Fatalf("%q does not say %q", text.Bad(tc.raw, bad), tc.says)
			}
		})
	}
}

// UTF-16 reads as UTF-8 in either byte order, with or without its mark,
// split anywhere; what is no character stays visible.
func TestUTF16(t *testing.T) {
	const want = "Имя\tПочта\r\nZoë\t😀\n"
	for _, order := range []unicode.Endianness{unicode.LittleEndian, unicode.BigEndian} {
		for _, bom := range []unicode.BOMPolicy{unicode.UseBOM, unicode.IgnoreBOM} {
			in, _ := unicode.UTF16(order, bom).NewEncoder().Bytes([]byte(want))
			enc := domain.EncodingUTF16LE
			if order == unicode.BigEndian {
				enc = domain.EncodingUTF16BE
			}
			for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in)), iotest.HalfReader(bytes.NewReader(in))} {
				out, err := io.ReadAll(domain.TextOf(enc).Open(r))
				if err != nil || string(out) != want {
					t.Fatalf("%s %v: %q %v", enc, bom, out, err)
				}
			}
		}
	}
	// A lone high surrogate, a lone low one, and an odd byte at the end.
	out, err := io.ReadAll(domain.TextOf(domain.EncodingUTF16LE).Open(bytes.NewReader([]byte("a\x00\x3D\xD8b\x00\x00\xDCc"))))
	if err != nil || string(out) != "a\xED\xA0\xBDb\xED\xB0\x80\xFF" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestImportDate(t *testing.T) {
	for cell, want := range map[string]string{"15.03.1985": "1985-03-15", "5.3.1985": "1985-03-05", "1985-03-15": "1985-03-15",
		"1985-3-5": "1985-03-05", "25/03/1985": "1985-03-25", "03/25/1985": "1985-03-25", "05/05/1985": "1985-05-05",
		"1985/03/15": "1985-03-15", "29.02.2000": "2000-02-29"} {
		if have, msg := domain.ImportDate(cell); have != want || msg != "" {
			t.Errorf("%s: %q %q, want %s", cell, have, msg, want)
		}
	}
	for cell, says := range map[string]string{"03/04/1985": "ambiguous", "31.02.1985": "no day 31 of month 2", "29.02.1900": "no day 29",
		"15.03.85": "four digits", "15-03-1985": "year first", "1985.03.15": "dd.mm.yyyy", "15.13.1985": "month 13",
		"tomorrow": "not a date", "+1.2.1985": "not a date", "1.2.3.1985": "not a date", "": "not a date", "00.01.1985": "day 0"} {
		if have, msg := domain.ImportDate(cell); have != "" || !strings.Contains(msg, says) {
			t.Errorf("%s: %q %q, want it to say %q", cell, have, msg, says)
		}
	}
}

// An export neutralises what a spreadsheet would run; an import gives back
// every value exactly.
func TestFormulaRoundTrip(t *testing.T) {
	for value, exported := range map[string]string{"=1+1": "'=1+1", "+79120000001": "'+79120000001", "-5": "'-5",
		"@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx", "'=x": "''=x", "''+x": "'''+x", "'plain": "'plain",
		"O'Brien": "O'Brien", "": "", "'": "'", "a=b": "a=b"} {
		if have := domain.DefuseFormula(value); have != exported {
			t.Errorf("%q exported as %q, want %q", value, have, exported)
		}
		if back := domain.RestoreFormula(domain.DefuseFormula(value)); back != value {
			t.Errorf("%q came back as %q", value, back)
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

// BenchmarkScanImportFile is the upload's reading of a file: every record
// counted, the encoding decided, no cell needed.
func BenchmarkScanImportFile(b *testing.B) {
	var file bytes.Buffer
	file.WriteString("first_name,last_name,emails,phones,tags,address.city\n")
	for i := range 10000 {
		fmt.Fprintf(&file, "Имя%d,Фамилия%d,person%d@example.ru,+7 912 000-%02d-%02d,\"vip; new\",Москва\n", i, i, i, i%100, i%97)
	}
	cp1251, _ := charmap.Windows1251.NewEncoder().Bytes(file.Bytes())
	for name, data := range map[string][]byte{"utf-8": file.Bytes(), "windows-1251": cp1251} {
		b.Run(name, func(b *testing.B) {
			head, err := domain.ReadImportHead(data[:domain.HeadSize], false, "")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				if rows, _, err := domain.ScanImportFile(bytes.NewReader(data), head); err != nil || rows != 10000 {
					b.Fatal(rows, err)
				}
			}
		})
	}
}
