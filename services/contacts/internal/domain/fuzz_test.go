package domain_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// seeds are files the fuzz targets start from: the issue's, broken quotes,
// mixed encodings, UTF-16.
func seeds() [][]byte {
	cp1251, _ := charmap.Windows1251.NewEncoder().String("Имя;Почта\r\nАнна;a@b.ru\r\n")
	u16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("first_name\tlast_name\r\nЮлия\t😀\r\n")
	odd, _ := charmap.Windows1251.NewEncoder().String("Привет")
	return [][]byte{
		[]byte("first_name\nGood1\nBad\"Quote\n\"Unclosed\nGood2\n"),
		[]byte("first_name,emails\n\"Мария\nМаша\",m@x.ru\n\"a\"b,c\n\n\r\n,,\n"),
		[]byte("a,b\r\n\"x\"\"y\",\"z\r\nw\"\r\n\"open,\r\nnext,1"),
		[]byte("first_name,last_name\nЮникод,Первый\nOleg," + odd + "\nМария,Третья\n"),
		[]byte(cp1251),
		[]byte(u16),
		[]byte(u16[2:]),
		[]byte("\xEF\xBB\xBFfirst_name\n\xEF\xBB\xBFx\n"),
		[]byte("\xFF\xFE\x00\x00a"),
		{},
	}
}

// FuzzCSVReader: whatever the bytes, the reader does not panic, accounts
// for every line (each is part of a record, of a reported error, or
// blank), reads the whole input, and gives valid UTF-8 back unchanged.
func FuzzCSVReader(f *testing.F) {
	for _, s := range seeds() {
		for comma := range byte(3) {
			f.Add(s, comma)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, comma byte) {
		delim := []byte{',', ';', '\t'}[comma%3]
		readAll(t, data, delim, nil)
		sameSkipped(t, data, delim)
		if !utf8.Valid(data) {
			return
		}
		text := domain.TextOf(domain.EncodingUTF8)
		r := domain.NewCSVReader(bytes.NewReader(data), delim)
		for {
			rec, err := r.Read()
			var ce *domain.CSVError
			if errors.Is(err, io.EOF) {
				return
			}
			if errors.As(err, &ce) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, r.Raw()) {
				t.Fatalf("record bytes %q are not the input's", r.Raw())
			}
			for _, cell := range rec.Cells {
				if have, bad := text.Cell(cell); have != cell || bad >= 0 && cell[bad] != 0 {
					t.Fatalf("valid UTF-8 cell %q read as %q (bad at %d)", cell, have, bad)
				}
			}
		}
	})
}

// sameSkipped checks that Skip passes the records Read reads: the same
// bytes, the same errors.
func sameSkipped(t *testing.T, data []byte, delim byte) {
	read, skip := domain.NewCSVReader(bytes.NewReader(data), delim), domain.NewCSVReader(bytes.NewReader(data), delim)
	for {
		_, rerr := read.Read()
		serr := skip.Skip()
		if fmt.Sprint(rerr) != fmt.Sprint(serr) || !bytes.Equal(read.Raw(), skip.Raw()) || read.Offset() != skip.Offset() {
			t.Fatalf("Read: %q %v; Skip: %q %v", read.Raw(), rerr, skip.Raw(), serr)
		}
		if rerr != nil && !errors.As(rerr, new(*domain.CSVError)) {
			return
		}
	}
}

// FuzzImportEncoding: the upload's reading of a file (its head, then the
// whole of it) never panics, refuses only with a validation problem, and
// counts exactly the records the worker then reads; a file of valid UTF-8
// is never read as anything else.
func FuzzImportEncoding(f *testing.F) {
	for _, s := range seeds() {
		for stated := range byte(3) {
			f.Add(s, stated)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, stated byte) {
		statement := []string{"", domain.EncodingUTF8, domain.Encoding1251, domain.EncodingUTF16LE}[stated%4]
		head, err := domain.ReadImportHead(data[:min(len(data), domain.HeadSize)], len(data) <= domain.HeadSize, statement)
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindInvalid {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		rows, enc, err := domain.ScanImportFile(bytes.NewReader(data), head)
		if err != nil {
			t.Fatal(err)
		}
		if statement == "" && utf8.Valid(data) && enc != domain.EncodingUTF8 && enc != domain.EncodingUTF8BOM {
			t.Fatalf("valid UTF-8 read as %s", enc)
		}
		// The worker reads the same number of records, and valid UTF-8
		// text as it is.
		text := domain.TextOf(enc)
		transcoded, err := io.ReadAll(text.Open(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, transcoded, byte(head.Delimiter), nil)
		r := domain.NewCSVReader(bytes.NewReader(transcoded), byte(head.Delimiter))
		var read int64 = -1 // the header is no row
		for {
			rec, err := r.Read()
			var ce *domain.CSVError
			if errors.Is(err, io.EOF) {
				break
			}
			read++
			if errors.As(err, &ce) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, cell := range rec.Cells {
				if have, bad := text.Cell(cell); bad < 0 && enc == domain.EncodingUTF8 && have != cell {
					t.Fatalf("UTF-8 cell %q read as %q", cell, have)
				}
			}
		}
		if max(read, 0) != rows {
			t.Fatalf("the upload counted %d rows, the worker reads %d", rows, read)
		}
	})
}
