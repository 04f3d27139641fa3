package main

import (
	"bytes"
	"slices"
	"testing"
)

func TestLineWriterPrefixesWholeLinesAndKeepsTheRawLog(t *testing.T) {
	var out, file bytes.Buffer
	con := newConsole(&out, false)
	con.fit("contacts", "gateway")
	w := con.writer("contacts", &file)

	for _, chunk := range []string{"first li", "ne\nsecond line\nthi", "rd"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()

	if have, want := out.String(), "[contacts] first line\n[contacts] second line\n[contacts] third\n"; have != want {
		t.Fatalf("console has\n%q\nwant\n%q", have, want)
	}
	if have, want := file.String(), "first line\nsecond line\nthird\n"; have != want {
		t.Fatalf("log file has %q, want %q", have, want)
	}
	if have, want := w.Tail(), []string{"first line", "second line", "third"}; !slices.Equal(have, want) {
		t.Fatalf("tail %q, want %q", have, want)
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	tl := newTail(3)
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		tl.add(s)
	}
	if have, want := tl.lines(), []string{"c", "d", "e"}; !slices.Equal(have, want) {
		t.Fatalf("have %q, want %q", have, want)
	}
}
