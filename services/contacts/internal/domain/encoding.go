package domain

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// Encodings of an import file. Byte-order marks tell UTF-8 and UTF-16;
// without one, a file is UTF-8 unless none of its text is, and then
// Windows-1251, what Russian Excel writes. A client may state any of
// StatedEncodings instead.
const (
	EncodingUTF8    = "utf-8"
	EncodingUTF8BOM = "utf-8-bom"
	EncodingUTF16LE = "utf-16le"
	EncodingUTF16BE = "utf-16be"
	Encoding1251    = "windows-1251"
	Encoding1252    = "windows-1252"
	EncodingKOI8R   = "koi8-r"
	Encoding866     = "ibm866"
)

// StatedEncodings are the encodings a client may name for its file.
var StatedEncodings = []string{EncodingUTF8, EncodingUTF16LE, EncodingUTF16BE, Encoding1251, Encoding1252, EncodingKOI8R,
	Encoding866}

var singleByte = map[string]*charmap.Charmap{Encoding1251: charmap.Windows1251, Encoding1252: charmap.Windows1252,
	EncodingKOI8R: charmap.KOI8R, Encoding866: charmap.CodePage866}

// marks are the byte-order marks, longest first (UTF-32LE's starts as
// UTF-16LE's does).
var marks = []struct {
	bom, encoding, name string
}{
	{"\xFF\xFE\x00\x00", "", "UTF-32LE"},
	{"\x00\x00\xFE\xFF", "", "UTF-32BE"},
	{"\xEF\xBB\xBF", EncodingUTF8BOM, "UTF-8"},
	{"\xFF\xFE", EncodingUTF16LE, "UTF-16LE"},
	{"\xFE\xFF", EncodingUTF16BE, "UTF-16BE"},
}

func headError(field, msg string) error {
	var v apperr.Invalid
	v.Add(field, msg)
	return v.Err()
}

// fileEncoding decides how a file is read from its first bytes and the
// encoding the client stated ("" for none). provisional says that the
// whole file decides (see ScanImportFile): there was no byte-order mark and
// no statement; the encoding is then UTF-8 until the header says otherwise
// (ReadImportHead).
func fileEncoding(head []byte, stated string) (encoding string, provisional bool, err error) {
	markEnc, markName := "", ""
	for _, m := range marks {
		if bytes.HasPrefix(head, []byte(m.bom)) {
			markEnc, markName = m.encoding, m.name
			if markEnc == "" {
				return "", false, headError("body", "the file is "+markName+" (its byte-order mark says so), which an import "+
					"does not read: save it as UTF-8 (or UTF-16)")
			}
			break
		}
	}
	switch {
	case stated != "" && !slices.Contains(StatedEncodings, stated):
		return "", false, headError("encoding", "one of "+strings.Join(StatedEncodings, ", ")+", or none to have it detected")
	case stated != "" && markEnc != "" && markEnc != stated && !(stated == EncodingUTF8 && markEnc == EncodingUTF8BOM):
		return "", false, headError("encoding", fmt.Sprintf("the file starts with a %s byte-order mark, but encoding=%s was "+
			"stated: leave encoding out, or send the file in the encoding stated", markName, stated))
	case markEnc != "":
		return markEnc, false, nil
	case stated != "":
		return stated, false, nil
	}
	return EncodingUTF8, true, nil
}

// ImportHead is what the first bytes of an import file say.
type ImportHead struct {
	// Encoding is the file's; Provisional when the whole file decides it
	// (ScanImportFile).
	Encoding    string
	Provisional bool
	Delimiter   rune
	Header      []string
}

// HeadSize is how much of a file ReadImportHead reads: the header line
// must end within it.
const HeadSize = 64 << 10

// ReadImportHead reads the encoding, the delimiter and the header of an
// import file from its first bytes (at most HeadSize; whole says they are
// the whole file), with the encoding the client stated ("" for none). The
// delimiter is whichever of ",", ";" and tab the header line has most of
// outside quotes.
func ReadImportHead(head []byte, whole bool, stated string) (ImportHead, error) {
	var h ImportHead
	var err error
	if h.Encoding, h.Provisional, err = fileEncoding(head, stated); err != nil {
		return h, err
	}
	text := TextOf(h.Encoding)
	data, err := io.ReadAll(text.Open(bytes.NewReader(head)))
	if err != nil {
		return h, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return h, headError("body", "the file is empty; send a CSV whose first line names the columns")
	}
	h.Delimiter = sniffDelimiter(data)
	cr := NewCSVReader(bytes.NewReader(data), byte(h.Delimiter))
	rec, err := cr.Read()
	var ce *CSVError
	switch {
	case errors.As(err, &ce):
		return h, headError("body", "the first line must name the columns, but "+ce.Message)
	case err != nil:
		return h, err
	case !whole && cr.Offset() >= int64(len(data)):
		return h, headError("body", fmt.Sprintf("the first line must name the columns, in at most %d KiB", HeadSize>>10))
	}
	if h.Provisional && !utf8.Valid(cr.Raw()) {
		// The header's own bytes say how to read it, whatever the rows
		// around it hold; the file's encoding is decided from all its lines
		// later.
		h.Encoding = Encoding1251
		text = TextOf(h.Encoding)
	}
	cr.Chars = text.Chars
	for i, cell := range rec.Cells {
		s, bad := text.Cell(cell)
		switch {
		case bad >= 0 && cell[bad] == 0:
			return h, headError("body", "the first line holds NUL bytes: the file looks like UTF-16 without a byte-order mark "+
				`(Excel's "Unicode Text" has one); state encoding=utf-16le or encoding=utf-16be, or save the file as UTF-8`)
		case bad >= 0:
			line, col := cr.Position(i, bad)
			return h, headError("body", fmt.Sprintf("line %d, character %d: %s", line, col, text.Bad(cell, bad)))
		}
		h.Header = append(h.Header, s)
	}
	return h, nil
}

// sniffDelimiter is whichever of ",", ";" and tab the first line of data
// has most of outside quotes (a comma on a tie).
func sniffDelimiter(data []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, b := range data {
		if b == '\n' && !quoted {
			break
		}
		switch b {
		case '"':
			quoted = !quoted
		case ',', ';', '\t':
			if !quoted {
				counts[rune(b)]++
			}
		}
	}
	delimiter := ','
	for _, d := range []rune{';', '\t'} {
		if counts[d] > counts[delimiter] {
			delimiter = d
		}
	}
	return delimiter
}

// ScanImportFile reads a whole import file as the worker will read it
// (OpenText, CSVReader) and returns how many records follow the header,
// broken ones included, and the file's encoding: for a provisional head it
// is UTF-8 when any line with bytes outside ASCII is valid UTF-8 (or none
// has such bytes), else Windows-1251. Valid UTF-8 is never read as
// anything else; the lines a UTF-8 file holds in another encoding are
// reported row by row when the job reads them (Text.Cell).
func ScanImportFile(r io.Reader, head ImportHead) (rows int64, encoding string, err error) {
	cr := NewCSVReader(TextOf(head.Encoding).Open(r), byte(head.Delimiter))
	var utf8Lines, otherLines int64
	header := true
	var ce *CSVError // outside the loop: errors.As would move it to the heap for every record
	for {
		err := cr.Skip()
		switch {
		case errors.Is(err, io.EOF):
			encoding = head.Encoding
			if head.Provisional {
				encoding = EncodingUTF8
				if utf8Lines == 0 && otherLines > 0 {
					encoding = Encoding1251
				}
			}
			return rows, encoding, nil
		case errors.As(err, &ce):
		case err != nil:
			return 0, "", err
		case head.Provisional && utf8Lines == 0:
			// One line of UTF-8 settles it; until then every line counts.
			if raw := cr.Raw(); !isASCII(raw) {
				if utf8.Valid(raw) {
					utf8Lines++
				} else {
					otherLines++
				}
			}
		}
		if header {
			header = false
			continue
		}
		rows++
	}
}

// isASCII reports whether b has no byte above 0x7F, eight bytes at a time.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Text reads the bytes of a file in one encoding as UTF-8.
type Text struct {
	encoding string
	table    *charmap.Charmap // a single-byte encoding; nil for UTF-8 and UTF-16
}

// TextOf is the Text of an encoding (UTF-8 for an unknown one).
func TextOf(encoding string) Text { return Text{encoding: encoding, table: singleByte[encoding]} }

// Open returns a file's bytes as a CSVReader takes them: without a
// byte-order mark, and UTF-16 as UTF-8, an unpaired surrogate kept as an
// invalid sequence that Cell reports.
func (t Text) Open(r io.Reader) io.Reader {
	switch t.encoding {
	case EncodingUTF8BOM:
		return &bomSkipper{r: r}
	case EncodingUTF16LE, EncodingUTF16BE:
		return &utf16Reader{r: r, big: t.encoding == EncodingUTF16BE}
	}
	return r
}

// Cell returns a cell as UTF-8, or the offset of its first byte that is no
// character of the encoding, or a NUL (which no text may hold), and -1.
func (t Text) Cell(raw string) (string, int) {
	if t.table == nil {
		nul := strings.IndexByte(raw, 0)
		if utf8.ValidString(raw) {
			return raw, nul
		}
		for i, r := range raw {
			if nul >= 0 && i > nul {
				break
			}
			if _, size := utf8.DecodeRuneInString(raw[i:]); r == utf8.RuneError && size == 1 {
				return raw, i
			}
		}
		return raw, nul
	}
	i := 0
	for i < len(raw) && raw[i] < utf8.RuneSelf && raw[i] != 0 {
		i++
	}
	if i == len(raw) {
		return raw, -1
	}
	out := make([]byte, 0, len(raw)+len(raw)/2)
	out = append(out, raw[:i]...)
	for ; i < len(raw); i++ {
		b := raw[i]
		switch {
		case b == 0:
			return raw, i
		case b < utf8.RuneSelf:
			out = append(out, b)
		default:
			r := t.table.DecodeByte(b)
			if r == utf8.RuneError {
				return raw, i
			}
			out = utf8.AppendRune(out, r)
		}
	}
	return string(out), -1
}

// Chars counts the characters of b.
func (t Text) Chars(b []byte) int {
	if t.table != nil {
		return len(b)
	}
	return utf8.RuneCount(b)
}

// Bad says what the bytes at raw[off:] are, Cell having refused them.
func (t Text) Bad(raw string, off int) string {
	b := raw[off]
	switch {
	case b == 0:
		return "a NUL character, which no text may hold"
	case t.table != nil:
		return fmt.Sprintf("the byte %02X is no character in %s", b, t.encoding)
	case t.encoding == EncodingUTF16LE || t.encoding == EncodingUTF16BE:
		if b == 0xFF || off+2 >= len(raw) {
			return "half a UTF-16 character at the end of the file"
		}
		r := rune(raw[off]&0x0F)<<12 | rune(raw[off+1]&0x3F)<<6 | rune(raw[off+2]&0x3F)
		return fmt.Sprintf("an unpaired UTF-16 surrogate (%04X), which is no character", r)
	}
	end := off
	for end < len(raw) && end-off < 12 && raw[end] >= utf8.RuneSelf {
		end++
	}
	run := raw[off:end]
	hex := strings.ToUpper(fmt.Sprintf("% x", run))
	if end < len(raw) && raw[end] >= utf8.RuneSelf {
		hex += " …"
	}
	msg := "the bytes " + hex + " are not UTF-8, the encoding of the rest of the file"
	if s, bad := TextOf(Encoding1251).Cell(run); bad < 0 {
		msg += " (as Windows-1251 they would read «" + s + "»)"
	}
	return msg + "; save the file as UTF-8 and import the row again"
}

type bomSkipper struct {
	r    io.Reader
	done bool
}

func (s *bomSkipper) Read(p []byte) (int, error) {
	if s.done {
		return s.r.Read(p)
	}
	var bom [3]byte
	if _, err := io.ReadFull(s.r, bom[:]); err != nil {
		return 0, err
	}
	s.done = true
	if !bytes.Equal(bom[:], []byte(marks[2].bom)) {
		return 0, fmt.Errorf("the file lost its byte-order mark")
	}
	return s.r.Read(p)
}

// utf16Reader reads UTF-16 as UTF-8, without a leading byte-order mark.
// What is no character (an unpaired surrogate, an odd byte at the end)
// stays visible as bytes that are not UTF-8, for Text.Cell to report;
// golang.org/x/text's decoder would replace it with U+FFFD unseen.
type utf16Reader struct {
	r       io.Reader
	big     bool
	in      [8 << 10]byte
	n       int // bytes of in not converted yet
	buf     []byte
	out     []byte // what buf holds that Read has not returned yet
	started bool
	eof     bool
	err     error
}

func (u *utf16Reader) unit(i int) uint16 {
	if u.big {
		return uint16(u.in[i])<<8 | uint16(u.in[i+1])
	}
	return uint16(u.in[i+1])<<8 | uint16(u.in[i])
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.eof && u.n < 2 {
			if u.n == 1 {
				u.buf, u.n = append(u.buf[:0], 0xFF), 0
				u.out = u.buf
				break
			}
			if u.err != nil {
				return 0, u.err
			}
			return 0, io.EOF
		}
		if !u.eof {
			m, err := u.r.Read(u.in[u.n:])
			u.n += m
			if err != nil {
				u.eof = true
				if !errors.Is(err, io.EOF) {
					u.err = err
				}
			}
		}
		u.convert()
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// convert turns the whole units of in into out, keeping a trailing half
// unit (or a high surrogate whose partner may follow) for the next read.
func (u *utf16Reader) convert() {
	u.buf = u.buf[:0]
	defer func() { u.out = u.buf }()
	i := 0
	for i+1 < u.n {
		c := u.unit(i)
		switch {
		case !u.started && c == 0xFEFF:
			i += 2
		case utf16.IsSurrogate(rune(c)) && c < 0xDC00:
			if i+3 >= u.n && !u.eof {
				u.started = true
				copy(u.in[:], u.in[i:u.n])
				u.n -= i
				return
			}
			if i+3 < u.n {
				if r := utf16.DecodeRune(rune(c), rune(u.unit(i+2))); r != utf8.RuneError {
					u.buf = utf8.AppendRune(u.buf, r)
					i += 4
					break
				}
			}
			u.buf = appendSurrogate(u.buf, c)
			i += 2
		case utf16.IsSurrogate(rune(c)):
			u.buf = appendSurrogate(u.buf, c)
			i += 2
		default:
			u.buf = utf8.AppendRune(u.buf, rune(c))
			i += 2
		}
		u.started = true
	}
	copy(u.in[:], u.in[i:u.n])
	u.n -= i
}

// appendSurrogate writes an unpaired surrogate as the three bytes UTF-8
// would give it, which are not valid UTF-8.
func appendSurrogate(b []byte, c uint16) []byte {
	return append(b, 0xE0|byte(c>>12), 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F)
}
