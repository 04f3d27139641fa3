package imports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
)

// The worker's reading allocates the one string of a record's cells, and
// nothing else per record.
func TestImportReadAllocations(t *testing.T) {
	file := bytes.Repeat([]byte("Имя,Фамилия,person@example.ru\n"), 1000)
	run := &importRun{job: &domain.ImportJob{Columns: []string{"first_name", "last_name", "emails"}}}
	text := domain.TextOf(domain.EncodingUTF8)
	allocs := testing.AllocsPerRun(5, func() {
		cr := domain.NewCSVReader(bytes.NewReader(file), ',')
		for {
			if _, err := run.next(cr, text); err != nil {
				return
			}
		}
	})
	if allocs > 1100 {
		t.Fatalf("%.0f allocations for 1,000 records", allocs)
	}
}

// A resumed job passes the rows it stored without making their cells,
// let alone decoding them (Windows-1251 makes a string of every cell), and
// resumes at the record after them: a quoted cell over two lines and an
// unclosed quote among them are one record each.
func TestImportSkipStoredDecodesNothing(t *testing.T) {
	rows, _ := charmap.Windows1251.NewEncoder().Bytes(bytes.Repeat([]byte("Имя,Фамилия,person@example.ru\n"), 1000))
	file := append([]byte("first_name,last_name,emails\n\"Мария\nМаша\",Петрова,m@example.ru\n\"Unclosed,x,y\n"), rows...)
	file = append(file, "Next,Row,next@example.ru\n"...)
	job := &domain.ImportJob{Columns: []string{"first_name", "last_name", "emails"}, RowsDone: 1002}
	run := &importRun{job: job}
	text := domain.TextOf(domain.Encoding1251)
	var rec importRecord
	allocs := testing.AllocsPerRun(5, func() {
		cr := domain.NewCSVReader(bytes.NewReader(file), ',')
		_, err := cr.Read() // the header
		if err == nil {
			err = run.skipStored(cr, text)
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec, err = run.next(cr, text); err != nil {
			t.Fatal(err)
		}
	})
	if fmt.Sprint(rec.line, rec.cells) != "1005 [Next Row next@example.ru]" {
		t.Fatalf("resumed at %d %v", rec.line, rec.cells)
	}
	if allocs > 100 {
		t.Fatalf("%.0f allocations to pass 1,002 stored rows", allocs)
	}
}

// BenchmarkImportRead is the worker's reading of a file's records and
// their cells (importRun.next), without judging or storing them.
func BenchmarkImportRead(b *testing.B) {
	var file bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&file, "Имя%d,Фамилия%d,person%d@example.ru,+7 912 000-%02d-%02d,\"vip; new\",Москва\n", i, i, i, i%100, i%97)
	}
	run := &importRun{job: &domain.ImportJob{Columns: []string{"first_name", "last_name", "emails", "phones", "tags", "address.city"}}}
	text := domain.TextOf(domain.EncodingUTF8)
	b.SetBytes(int64(file.Len()))
	b.ReportAllocs()
	for range b.N {
		cr := domain.NewCSVReader(bytes.NewReader(file.Bytes()), ',')
		for {
			_, err := run.next(cr, text)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
