package httpkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rapportcrm/rapport/pkg/apperr"
)

// invalidUTF8 is the offset of the first byte of b that is not valid
// UTF-8, or -1. encoding/json would silently store U+FFFD in its place.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

func invalidUTF8Error(offset int) error {
	return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "invalid-utf8",
		Message:    fmt.Sprintf("the request body is not valid UTF-8 at byte offset %d; send text as UTF-8", offset),
		Extensions: map[string]any{"offset": offset}}
}

// keyArenaMax is how many keys an object compares pairwise before it
// switches to a map, so a huge object cannot make the check quadratic.
const keyArenaMax = 32

// jsonFrame is one open object or array while scanning.
type jsonFrame struct {
	object   bool
	wantKey  bool // an object expects a key next
	keysFrom int  // this object's keys start here in the arena
	big      map[string]struct{}
	key      []byte // the key whose value is being read (objects)
	index    int    // the element being read (arrays)
}

// jsonScanner holds the scan's stacks between requests.
type jsonScanner struct {
	stack []jsonFrame
	arena [][]byte // the keys of the open objects, innermost last
}

var jsonScanners = sync.Pool{New: func() any {
	return &jsonScanner{stack: make([]jsonFrame, 0, 16), arena: make([][]byte, 0, 64)}
}}

// checkJSONStrings walks a body encoding/json has accepted, in one pass,
// and refuses what it would have changed or lost silently: an object with
// the same key twice at any depth (only the last value would be kept) and
// a \u escape that is a lone UTF-16 surrogate (stored as U+FFFD).
func checkJSONStrings(b []byte) error {
	sc := jsonScanners.Get().(*jsonScanner)
	err := sc.check(b)
	clear(sc.stack[:cap(sc.stack)])
	clear(sc.arena[:cap(sc.arena)])
	sc.stack, sc.arena = sc.stack[:0], sc.arena[:0]
	jsonScanners.Put(sc)
	return err
}

func (sc *jsonScanner) check(b []byte) error {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			sc.stack = append(sc.stack, jsonFrame{object: true, wantKey: true, keysFrom: len(sc.arena)})
		case '[':
			sc.stack = append(sc.stack, jsonFrame{})
		case '}', ']':
			if len(sc.stack) == 0 {
				return errUnbalanced
			}
			top := &sc.stack[len(sc.stack)-1]
			if top.object {
				sc.arena = sc.arena[:top.keysFrom]
			}
			sc.stack = sc.stack[:len(sc.stack)-1]
		case ',':
			if len(sc.stack) == 0 {
				return errUnbalanced
			}
			top := &sc.stack[len(sc.stack)-1]
			if top.object {
				top.wantKey = true
			} else {
				top.index++
			}
		case '"':
			end, escaped, err := scanString(b, i)
			if err != nil {
				return err
			}
			if n := len(sc.stack); n > 0 && sc.stack[n-1].object && sc.stack[n-1].wantKey {
				top := &sc.stack[n-1]
				top.wantKey = false
				key := b[i+1 : end]
				if escaped {
					var s string
					if err := json.Unmarshal(b[i:end+1], &s); err != nil {
						return err
					}
					key = []byte(s)
				}
				top.key = key
				if isDuplicate(top, &sc.arena, key) {
					return duplicateKeyError(sc.stack, key)
				}
			}
			i = end
		}
	}
	return nil
}

// errUnbalanced guards the scan should it ever see a body encoding/json
// refused.
var errUnbalanced = apperr.New(apperr.KindBadRequest, "malformed-json", "the request body is not valid JSON")

// scanString finds the closing quote of the string opening at b[start]
// and checks its \u escapes pair up.
func scanString(b []byte, start int) (end int, escaped bool, err error) {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i, escaped, nil
		case '\\':
			escaped = true
			if b[i+1] != 'u' {
				i++
				continue
			}
			r := hex4(b[i+2 : i+6])
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00 && i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
				utf16.DecodeRune(r, hex4(b[i+8:i+12])) != utf8.RuneError:
				i += 11
			case utf16.IsSurrogate(r):
				return 0, false, &apperr.Error{Kind: apperr.KindBadRequest, Slug: "invalid-utf8",
					Message: fmt.Sprintf("the request body has an unpaired UTF-16 surrogate escape %s at byte offset %d; it stands for no character",
						b[i:i+6], i),
					Extensions: map[string]any{"offset": i}}
			default:
				i += 5
			}
		}
	}
	return len(b), escaped, nil
}

// hex4 reads four hexadecimal digits encoding/json has already checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// isDuplicate records key for the object on top and reports whether it
// was there already. Keys are compared regardless of case, because
// encoding/json matches struct fields that way: {"name":…,"NAME":…} would
// otherwise let the second win unseen. (Custom field keys are lower case.)
func isDuplicate(top *jsonFrame, arena *[][]byte, key []byte) bool {
	if top.big != nil {
		k := foldKey(key)
		if _, dup := top.big[k]; dup {
			return true
		}
		top.big[k] = struct{}{}
		return false
	}
	keys := (*arena)[top.keysFrom:]
	for _, k := range keys {
		if bytes.EqualFold(k, key) {
			return true
		}
	}
	if len(keys) < keyArenaMax {
		*arena = append(*arena, key)
		return false
	}
	top.big = make(map[string]struct{}, 2*keyArenaMax)
	for _, k := range keys {
		top.big[foldKey(k)] = struct{}{}
	}
	top.big[foldKey(key)] = struct{}{}
	*arena = (*arena)[:top.keysFrom]
	return false
}

// foldKey maps every rune of key to the smallest of its case-folding orbit,
// so keys equal under bytes.EqualFold are equal strings.
func foldKey(key []byte) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range string(key) {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// duplicateKeyError names the repeated key and where it is, as a field
// path ("address/lines/1/kind"; "" for the top level object).
func duplicateKeyError(stack []jsonFrame, key []byte) error {
	var path []string
	for i, f := range stack {
		switch {
		case i == len(stack)-1:
		case f.object:
			path = append(path, string(f.key))
		default:
			path = append(path, strconv.Itoa(f.index))
		}
	}
	field := strings.Join(append(path, string(key)), "/")
	where := "at the top level"
	if len(path) > 0 {
		where = "in " + strings.Join(path, "/")
	}
	return &apperr.Error{Kind: apperr.KindBadRequest, Slug: "duplicate-key",
		Message: fmt.Sprintf("the request body has the key %q more than once %s (keys are matched regardless of case); send each key once", key, where),
		Fields:  []apperr.FieldError{{Field: field, Message: "appears more than once"}}}
}
