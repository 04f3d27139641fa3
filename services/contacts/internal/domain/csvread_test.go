package domain_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// readAll reads every record of in as "line:cells" or "line!lines" for a
// broken record, and checks that the lines add up.
func readAll(t testing.TB, in []byte, comma byte, src io.Reader) []string {
	t.Helper()
	if src == nil {
		src = bytes.NewReader(in)
	}
	r := domain.NewCSVReader(src, comma)
	var out []string
	var lines int64
	next := int64(1)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var ce *domain.CSVError
		switch {
		case errors.As(err, &ce):
			if ce.Line < next || ce.Lines < 1 {
				t.Fatalf("%q: error at line %d (%d lines) after line %d", short(in), ce.Line, ce.Lines, next)
			}
			out = append(out, fmt.Sprintf("%d!%d", ce.Line, ce.Lines))
			lines += int64(ce.Lines)
			next = ce.Line + int64(ce.Lines)
		case err != nil:
			t.Fatalf("%q: %v", short(in), err)
		default:
			if rec.Line < next || rec.Lines < 1 {
				t.Fatalf("%q: record at line %d (%d lines) after line %d", short(in), rec.Line, rec.Lines, next)
			}
			cells := fmt.Sprintf("%q", rec.Cells)
			if len(cells) > 300 {
				cells = cells[:300] + "…"
			}
			out = append(out, fmt.Sprintf("%d:%s", rec.Line, cells))
			lines += int64(rec.Lines)
			next = rec.Line + int64(rec.Lines)
		}
	}
	if want := physicalLines(in); lines+r.Blank() != want {
		t.Fatalf("%q: %d lines in records, %d blank, of %d: %.300v", short(in), lines, r.Blank(), want, out)
	}
	if r.Offset() != int64(len(in)) {
		t.Fatalf("%q: read %d bytes of %d", short(in), r.Offset(), len(in))
	}
	return out
}

// short is the start of a long input, for messages.
func short(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// physicalLines counts lines as the reader numbers them: each '\n' ends
// one, and text after the last is one more.
func physicalLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

func TestCSVReader(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want string
	}{
		"plain":                  {"a,b\nc,d\n", `1:["a" "b"] 2:["c" "d"]`},
		"no final line break":    {"a,b\nc,d", `1:["a" "b"] 2:["c" "d"]`},
		"crlf":                   {"a,b\r\nc,\r\n", `1:["a" "b"] 2:["c" ""]`},
		"empty cells":            {",\n,,\n", `1:["" ""] 2:["" "" ""]`},
		"blank lines":            {"\na\n\r\n\nb\n\r", `2:["a"] 5:["b"]`},
		"quoted":                 {`"a,b","c""d"` + "\n", `1:["a,b" "c\"d"]`},
		"quoted line breaks":     {"\"a\r\nb\nc\",d\ne\n", `1:["a\nb\nc" "d"] 4:["e"]`},
		"quoted at the end":      {`a,"b"`, `1:["a" "b"]`},
		"quoted, crlf":           {"\"a\"\r\nb", `1:["a"] 2:["b"]`},
		"a cr inside a cell":     {"a\rb,\"c\rd\"\n", `1:["a\rb" "c\rd"]`},
		"bare quote is text":     {"Bad\"Quote,x\"\n", `1:["Bad\"Quote" "x\""]`},
		"the issue's file":       {"first_name\nGood1\nBad\"Quote\n\"Unclosed\nGood2\n", `1:["first_name"] 2:["Good1"] 3:["Bad\"Quote"] 4!1 5:["Good2"]`},
		"unclosed at the end":    {"a\n\"b,c\nd\ne", `1:["a"] 2!1 3:["d"] 4:["e"]`},
		"text after the quote":   {"\"a\"b,c\nd\n", `1!1 2:["d"]`},
		"text after, later line": {"\"a\nb\"c\nd\n", `1!1 2:["b\"c"] 3:["d"]`},
		"quote then cr":          {"\"a\"\rb\nc\n", `1!1 2:["c"]`},
		"bad quote, later cell":  {"\"x\ny\",\"z\nw\n", `1!2 3:["w"]`},
		"semicolons":             {"a;b,c\n", `1:["a" "b,c"]`},
	} {
		t.Run(name, func(t *testing.T) {
			comma := byte(',')
			if name == "semicolons" {
				comma = ';'
			}
			if have := strings.Join(readAll(t, []byte(tc.in), comma, nil), " "); have != tc.want {
				t.Fatalf("have %s\nwant %s", have, tc.want)
			}
			// Read a byte at a time, every buffer boundary is met.
			if have := strings.Join(readAll(t, []byte(tc.in), comma, iotest.OneByteReader(strings.NewReader(tc.in))), " "); have != tc.want {
				t.Fatalf("one byte at a time: have %s\nwant %s", have, tc.want)
			}
		})
	}
}

// A quoted cell stops at the limits: it is reported where it opened and
// the lines after it are read as rows.
func TestCSVReaderLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("\"opens\n")
	for i := range domain.MaxQuotedCellLines + 5 {
		fmt.Fprintf(&b, "row%d\n", i)
	}
	b.WriteString("closes\",x\n")
	out := readAll(t, []byte(b.String()), ',', nil)
	if len(out) != domain.MaxQuotedCellLines+7 || out[0] != "1!1" || out[1] != `2:["row0"]` {
		t.Fatalf("lines: %v", out[:3])
	}
	long := "\"" + strings.Repeat("x", domain.MaxQuotedCellBytes+1) + "\",y\nnext\n"
	if out := readAll(t, []byte(long), ',', nil); strings.Join(out, " ") != `1!1 2:["next"]` {
		t.Fatalf("bytes: %v", out)
	}
	huge := strings.Repeat("z", domain.MaxRecordBytes+10) + "\nnext\n"
	if out := readAll(t, []byte(huge), ',', nil); strings.Join(out, " ") != `1!1 2:["next"]` {
		t.Fatalf("a long line: %v", out)
	}
}

// Where a byte of a cell is: the line and character, past quotes, escaped
// quotes and line breaks.
func TestCSVReaderPosition(t *testing.T) {
	r := domain.NewCSVReader(strings.NewReader("x\nЖ,\"a\"\"b\r\ncdé\"\n"), ',')
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	rec, err := r.Read()
	if err != nil || len(rec.Cells) != 2 || rec.Cells[1] != "a\"b\ncdé" {
		t.Fatalf("%v %q", err, rec.Cells)
	}
	for at, want := range map[int]string{0: "2:4", 2: "2:7", 3: "2:8", 4: "3:1", 6: "3:3"} {
		line, col := r.Position(1, at)
		if have := fmt.Sprintf("%d:%d", line, col); have != want {
			t.Errorf("byte %d: %s, want %s", at, have, want)
		}
	}
	if line, col := r.Position(0, 0); line != 2 || col != 1 {
		t.Errorf("first cell: %d:%d", line, col)
	}
}

// Random files of good and broken lines: every line is accounted for, and
// a file encoding/csv reads without error (and with no quote outside a
// quoted cell, which it refuses) reads the same here.
func TestCSVReaderAccountsForEveryLine(t *testing.T) {
	parts := []string{"a", "Юникод", `"q"`, `"a,b"`, `"x""y"`, `"`, `b"c`, `"open`, "close\"", "\r", "", ",", "\n", "\r\n", "\xff", `""`}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		var b strings.Builder
		for range rnd.IntN(30) {
			b.WriteString(parts[rnd.IntN(len(parts))])
		}
		in := []byte(b.String())
		have := readAll(t, in, ',', nil)
		cr := csv.NewReader(bytes.NewReader(in))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil || bytes.Contains(in, []byte("\r")) {
			continue
		}
		if len(have) != len(want) {
			t.Fatalf("%q: %v, encoding/csv %q", in, have, want)
		}
		for i, rec := range want {
			if !strings.HasSuffix(have[i], fmt.Sprintf(":%q", rec)) {
				t.Fatalf("%q: record %d is %s, encoding/csv %q", in, i, have[i], rec)
			}
		}
	}
}

func BenchmarkCSVReader(b *testing.B) {
	var file bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&file, "Имя%d,Фамилия%d,person%d@example.ru,+7 912 000-%02d-%02d,\"vip; new\",Москва\n", i, i, i, i%100, i%97)
	}
	b.Run("domain", func(b *testing.B) {
		b.SetBytes(int64(file.Len()))
		b.ReportAllocs()
		for range b.N {
			r := domain.NewCSVReader(bytes.NewReader(file.Bytes()), ',')
			for {
				if _, err := r.Read(); err != nil {
					break
				}
			}
		}
	})
	b.Run("encoding-csv", func(b *testing.B) {
		b.SetBytes(int64(file.Len()))
		b.ReportAllocs()
		for range b.N {
			r := csv.NewReader(bytes.NewReader(file.Bytes()))
			r.ReuseRecord = true
			for {
				if _, err := r.Read(); err != nil {
					break
				}
			}
		}
	})
}
