package domain

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits of one record of an import file. A quoted cell may hold line
// breaks, so an unclosed quote would otherwise swallow the rest of the
// file; past these, it is reported where it opened instead.
const (
	// MaxQuotedCellBytes is the longest quoted cell (a custom text holds at
	// most 2,000 characters, 8 KB).
	MaxQuotedCellBytes = 64 << 10
	// MaxQuotedCellLines is how many line breaks one quoted cell may hold.
	MaxQuotedCellLines = 100
	// MaxRecordBytes is the longest record.
	MaxRecordBytes = 1 << 20
)

// CSVRecord is one record of a CSV file.
type CSVRecord struct {
	// Line is the line of the file the record starts on (the first is 1);
	// Lines how many it takes (more than one when a quoted cell holds a
	// line break).
	Line  int64
	Lines int
	// Cells are the record's cells as the file has them: quotes removed, a
	// CRLF inside a quoted cell read as LF, the bytes otherwise untouched
	// (see Text.Cell). The slice is reused by the next Read.
	Cells []string
}

// CSVError is a record that cannot be read. It takes the lines from Line
// through Line+Lines-1, and reading goes on at the line after them.
type CSVError struct {
	Line    int64
	Lines   int
	Message string
}

func (e *CSVError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// CSVReader reads the records of an import file (RFC 4180, any
// delimiter, LF or CRLF) so that no line goes missing: every physical line
// is part of a record, of a CSVError, or blank. Unlike encoding/csv it
// never lets a broken quote take later lines with it: a quoted cell that
// does not close before the end of the file (or within the limits above),
// or closes with text after its closing quote, is an error that takes only
// the lines up to the one where the quote opened. A quote inside an
// unquoted cell is text, as spreadsheets read it. Empty lines are not
// records. The bytes are read as they are: the encoding only has to keep
// ASCII as ASCII (UTF-8 and single-byte code pages; see OpenText).
type CSVReader struct {
	src   io.Reader
	comma byte
	// Chars counts the characters of a line's bytes, for the columns of
	// errors (by default as UTF-8, an invalid byte counting as one).
	Chars func([]byte) int

	buf        []byte
	next, end  int   // buf[next:end] is unread
	line       int64 // the line buf[next] is on
	eof        bool
	srcErr     error
	blank      int64
	consumed   int64 // bytes before buf[0]
	recStart   int   // the last record's bytes: buf[recStart:recEnd]
	recEnd     int
	recLine    int64
	recBroken  bool
	content    []byte
	ends       []int
	starts     []int
	cells      []string
	rec        CSVRecord
	skip       bool // the record is read for its bytes only: no cells
	lineEndOff int  // offset from recStart of the current line's '\n', -1 unknown
	lineEndEOF bool // lineEndOff is the end of the file, not a '\n'
}

// NewCSVReader reads records of r whose cells are separated by comma.
func NewCSVReader(r io.Reader, comma byte) *CSVReader {
	return &CSVReader{src: r, comma: comma, buf: make([]byte, 64<<10), line: 1, Chars: utf8.RuneCount}
}

// Blank is how many empty lines were passed over so far.
func (r *CSVReader) Blank() int64 { return r.blank }

// Offset is how many bytes of the file the records read so far take.
func (r *CSVReader) Offset() int64 { return r.consumed + int64(r.next) }

// Raw is the last record's bytes as the file has them, until the next
// Read; nil after a CSVError.
func (r *CSVReader) Raw() []byte {
	if r.recBroken {
		return nil
	}
	return r.buf[r.recStart:r.recEnd]
}

// more reads more of the file, keeping the bytes from buf[keep:]; it
// returns the shift of positions in buf (subtract it from any kept
// absolute position) and whether anything was read.
func (r *CSVReader) more(keep int) (shift int, ok bool) {
	if r.eof {
		return 0, false
	}
	if r.end == len(r.buf) && keep > 0 {
		copy(r.buf, r.buf[keep:r.end])
		r.end -= keep
		r.next -= keep
		r.consumed += int64(keep)
		shift = keep
	}
	if r.end == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.eof = true
			if !errors.Is(err, io.EOF) {
				r.srcErr = err
			}
		}
		if n > 0 || r.eof {
			return shift, n > 0
		}
	}
	r.eof, r.srcErr = true, io.ErrNoProgress
	return shift, false
}

// Read returns the next record, a *CSVError for a record that cannot be
// read (the next Read goes on after it), io.EOF at the end, or the
// source's error.
func (r *CSVReader) Read() (*CSVRecord, error) {
	r.skip = false
	return r.read()
}

// Skip reads past the next record as Read does, errors included, but makes
// no cells of it: what counts records or resumes after some needs only
// their bytes (Raw), and a string per record is most of the reader's
// allocations.
func (r *CSVReader) Skip() error {
	r.skip = true
	_, err := r.read()
	return err
}

func (r *CSVReader) read() (*CSVRecord, error) {
	for {
		c, ok := r.peek(r.next)
		if !ok {
			if r.srcErr != nil {
				return nil, r.srcErr
			}
			return nil, io.EOF
		}
		// Empty lines (a lone CR included) are no records.
		if c == '\r' {
			if c2, ok := r.peek(r.next + 1); !ok || c2 == '\n' {
				r.next++
				c = '\n'
			}
		}
		if c == '\n' {
			r.next = min(r.next+1, r.end)
			r.line++
			r.blank++
			continue
		}
		return r.record()
	}
}

// peek returns buf[abs], reading more as needed (keeping buf[r.next:]);
// false past the end of the file.
func (r *CSVReader) peek(abs int) (byte, bool) {
	for abs >= r.end {
		shift, ok := r.more(r.next)
		abs -= shift
		if !ok {
			return 0, false
		}
	}
	return r.buf[abs], true
}

// at returns the byte at offset i of the record, reading more as needed;
// false past the end of the file.
func (r *CSVReader) at(i int) (byte, bool) {
	for r.recStart+i >= r.end {
		shift, ok := r.more(r.recStart)
		r.recStart -= shift
		if !ok {
			return 0, false
		}
	}
	return r.buf[r.recStart+i], true
}

func (r *CSVReader) record() (*CSVRecord, error) {
	r.recStart, r.recLine, r.recBroken = r.next, r.line, false
	r.content, r.ends, r.starts = r.content[:0], r.ends[:0], r.starts[:0]
	r.lineEndOff = -1
	breaks := 0 // line breaks inside the record so far
	i := 0      // offset from recStart
	for {
		if i > MaxRecordBytes {
			return nil, r.broken(0, 1, fmt.Sprintf("the row is longer than %d bytes", MaxRecordBytes))
		}
		r.starts = append(r.starts, i)
		c, ok := r.at(i)
		if ok && c == '"' {
			var err *CSVError
			var last bool
			i, breaks, last, err = r.quoted(i, breaks)
			if err != nil {
				return nil, err
			}
			r.ends = append(r.ends, len(r.content))
			if last {
				return r.finish(i, breaks), nil
			}
			continue
		}
		// An unquoted cell runs to the delimiter or the end of the line.
		le, found := r.lineEnd(i)
		if le > MaxRecordBytes {
			return nil, r.broken(0, 1, fmt.Sprintf("the line is longer than %d bytes", MaxRecordBytes))
		}
		line := r.buf[r.recStart+i : r.recStart+le]
		if k := bytes.IndexByte(line, r.comma); k >= 0 {
			r.content = append(r.content, line[:k]...)
			r.ends = append(r.ends, len(r.content))
			i += k + 1
			continue
		}
		if found && len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		r.content = append(r.content, line...)
		r.ends = append(r.ends, len(r.content))
		if found {
			le++
		}
		return r.finish(le, breaks), nil
	}
}

// lineEnd finds the end of the line offset i is on: the offset of its
// '\n', or of the end of the file (found false). It stops looking past
// MaxRecordBytes.
func (r *CSVReader) lineEnd(i int) (int, bool) {
	if r.lineEndOff >= i {
		return r.lineEndOff, !r.lineEndEOF
	}
	from := i
	for {
		if k := bytes.IndexByte(r.buf[r.recStart+from:r.end], '\n'); k >= 0 {
			r.lineEndOff, r.lineEndEOF = from+k, false
			return r.lineEndOff, true
		}
		from = r.end - r.recStart
		if from > MaxRecordBytes {
			return from, false
		}
		shift, ok := r.more(r.recStart)
		r.recStart -= shift
		if !ok {
			// The file ends on this line: remember that too, or every cell
			// of a long last line would look for its end again.
			r.lineEndOff, r.lineEndEOF = r.end-r.recStart, true
			return r.lineEndOff, false
		}
	}
}

// quoted reads the quoted cell at offset i (its opening quote). It returns
// the offset after the cell and its delimiter or line end, the line breaks
// so far, and whether the record ends there.
func (r *CSVReader) quoted(i, breaks int) (int, int, bool, *CSVError) {
	open, openBreaks := i, breaks
	start := len(r.content)
	i++
	for {
		if r.recStart+i >= r.end {
			if shift, ok := r.more(r.recStart); !ok {
				return 0, 0, false, r.badQuote(open, openBreaks, "is never closed")
			} else {
				r.recStart -= shift
			}
		}
		rest := r.buf[r.recStart+i : r.end]
		q := bytes.IndexByte(rest, '"')
		seg := rest
		if q >= 0 {
			seg = rest[:q]
		} else if n := len(seg); n > 0 && seg[n-1] == '\r' && !r.eof {
			seg = seg[:n-1] // its '\n' may come with the next read
		}
		r.appendQuoted(seg)
		n := bytes.Count(seg, []byte{'\n'})
		breaks += n
		if n > 0 {
			r.lineEndOff = -1
		}
		i += len(seg)
		switch {
		case len(r.content)-start > MaxQuotedCellBytes:
			return 0, 0, false, r.badQuote(open, openBreaks, fmt.Sprintf("runs past %d KiB", MaxQuotedCellBytes>>10))
		case breaks-openBreaks > MaxQuotedCellLines:
			return 0, 0, false, r.badQuote(open, openBreaks, fmt.Sprintf("runs over more than %d lines", MaxQuotedCellLines))
		case q < 0:
			if len(seg) == 0 && r.recStart+i < r.end {
				// Only a held-back '\r' is left and the file ends after it.
				shift, ok := r.more(r.recStart)
				r.recStart -= shift
				if !ok {
					r.content = append(r.content, '\r')
					i++
				}
			}
			continue
		}
		// The quote at offset i: an escaped quote, the cell's end, or text
		// after the closing quote.
		c, ok := r.at(i + 1)
		switch {
		case !ok:
			return i + 1, breaks, true, nil
		case c == '"':
			r.content = append(r.content, '"')
			i += 2
		case c == r.comma:
			return i + 2, breaks, false, nil
		case c == '\n':
			return i + 2, breaks, true, nil
		case c == '\r':
			if c2, ok := r.at(i + 2); !ok {
				return i + 2, breaks, true, nil
			} else if c2 == '\n' {
				return i + 3, breaks, true, nil
			}
			return 0, 0, false, r.badQuote(open, openBreaks, "is closed with text after it")
		default:
			return 0, 0, false, r.badQuote(open, openBreaks, "is closed with text after it")
		}
	}
}

// appendQuoted adds seg, the inside of a quoted cell, to the record's
// content, reading a CRLF as LF.
func (r *CSVReader) appendQuoted(seg []byte) {
	for {
		k := bytes.Index(seg, []byte("\r\n"))
		if k < 0 {
			r.content = append(r.content, seg...)
			return
		}
		r.content = append(r.content, seg[:k]...)
		seg = seg[k+1:]
	}
}

// finish ends the record at offset end (after its line break).
func (r *CSVReader) finish(end, breaks int) *CSVRecord {
	r.recEnd = r.recStart + end
	r.next = r.recEnd
	r.line += int64(breaks) + 1
	r.cells = r.cells[:0]
	if r.skip {
		return nil
	}
	s := string(r.content)
	from := 0
	for _, e := range r.ends {
		r.cells = append(r.cells, s[from:e])
		from = e
	}
	r.rec = CSVRecord{Line: r.recLine, Lines: breaks + 1, Cells: r.cells}
	return &r.rec
}

// badQuote reports the quote at offset open of the record, on its
// openBreaks-th line, and goes on at the line after it.
func (r *CSVReader) badQuote(open, openBreaks int, what string) *CSVError {
	from := open
	if k := bytes.LastIndexByte(r.buf[r.recStart:r.recStart+open], '\n'); k >= 0 {
		from = open - k - 1
	}
	col := r.Chars(r.buf[r.recStart+open-from:r.recStart+open]) + 1
	msg := fmt.Sprintf("the quote at line %d, character %d %s; the row is left out and reading goes on at the next line",
		r.recLine+int64(openBreaks), col, what)
	return r.broken(open, openBreaks+1, msg)
}

// broken ends a record that cannot be read: it takes lines lines, the last
// of them the one holding offset from, and reading goes on after that.
func (r *CSVReader) broken(from, lines int, msg string) *CSVError {
	r.recBroken = true
	if lines > 1 {
		msg += fmt.Sprintf(" (the row takes lines %d–%d)", r.recLine, r.recLine+int64(lines)-1)
	}
	err := &CSVError{Line: r.recLine, Lines: lines, Message: msg}
	// Skip to the end of that line, which may lie past what is read yet.
	pos := r.recStart + from
	for {
		if k := bytes.IndexByte(r.buf[pos:r.end], '\n'); k >= 0 {
			r.next = pos + k + 1
			break
		}
		r.next = r.end
		pos = r.end
		if _, ok := r.more(r.end); !ok {
			break
		}
		pos = r.next
	}
	r.line = r.recLine + int64(lines)
	r.recStart, r.recEnd = r.next, r.next
	return err
}

// Position is where byte at of the last record's cell is in the file: its
// line and character (both from 1). Only until the next Read.
func (r *CSVReader) Position(cell, at int) (line int64, col int) {
	raw := r.buf[r.recStart:r.recEnd]
	p := r.starts[cell]
	if p < len(raw) && raw[p] == '"' {
		p++
		for c := 0; c < at && p < len(raw); {
			switch {
			case raw[p] == '"':
				p += 2
				c++
			case raw[p] == '\r' && p+1 < len(raw) && raw[p+1] == '\n':
				p++
			default:
				p++
				c++
			}
		}
	} else {
		p += at
	}
	p = min(p, len(raw))
	before := raw[:p]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return r.recLine + int64(bytes.Count(before, []byte{'\n'})), r.Chars(before[lineStart:]) + 1
}
