package httpkit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// fuzzContact is shaped like the services' request bodies: scalars,
// pointers, lists, a nested object and free-form custom values.
type fuzzContact struct {
	FirstName string         `json:"first_name"`
	Age       *int           `json:"age"`
	Emails    []string       `json:"emails"`
	Address   *fuzzAddress   `json:"address"`
	Custom    map[string]any `json:"custom"`
	Active    bool           `json:"active"`
}

type fuzzAddress struct {
	Lines []string `json:"lines"`
	Zip   string   `json:"zip"`
}

// repeatedKey reports, independently of httpkit, whether some object of a
// valid JSON text has two keys equal regardless of case.
func repeatedKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object  bool
		keys    []string
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), wantKey: true})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if !top.wantKey {
			top.wantKey = true
			continue
		}
		key := tok.(string)
		for _, k := range top.keys {
			if strings.EqualFold(k, key) {
				return true
			}
		}
		top.keys = append(top.keys, key)
		top.wantKey = false
	}
}

// FuzzDecodeJSON: whatever a client sends, DecodeJSON never panics, never
// accepts invalid UTF-8 or a repeated key, answers only with kinds that are
// 4xx, and what it accepts re-encodes to a body it reads back the same.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"first_name":"Анна","age":36,"emails":["a@example.com"],"address":{"lines":["1 Main St"],"zip":"101000"},"custom":{"tier":"gold","n":[1,2,{"x":null}]},"active":true}`,
		"{\"first_name\":\"\xff\xfe\"}", `{"first_name":"a","first_name":"b"}`, `{"first_name":"a","FIRST_NAME":"b"}`,
		`{"custom":{"k":1,"\u212a":2}}`, `{"first_name":"\ud800"}`, `{"first_name":"\ud83d\ude00"}`, `{"first_name":"\u0000"}`,
		`{"age":"x"}`, `{"nick":1}`, `[]`, `{}`, ``, `{"address":{"zip":"1","zip":"2"}}`, `{"custom":{"a":{"b":{"c":[[{"d":1,"d":2}]]}}}}`,
		`{"first_name":"<b>&</b>"}`, `{"custom":{"big":1e400}}`, `{"first_name":"a"} {"first_name":"b"}`, `{"emails":[]}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v fuzzContact
		err := httpkit.DecodeJSON(fuzzRequest(body), &v)
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Kind == apperr.KindInternal {
				t.Fatalf("%q: an error that is not a client's: %v", body, err)
			}
			if !utf8.ValidString(body) && apperr.KindOf(err) != apperr.KindBadRequest && apperr.KindOf(err) != apperr.KindTooLarge {
				t.Fatalf("%q: invalid UTF-8 refused as %v", body, err)
			}
			return
		}
		if !utf8.ValidString(body) {
			t.Fatalf("accepted invalid UTF-8 %q", body)
		}
		if repeatedKey([]byte(body)) {
			t.Fatalf("accepted a repeated key in %q", body)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q decoded to %+v, which does not encode: %v", body, v, err)
		}
		var w fuzzContact
		if err := httpkit.DecodeJSON(fuzzRequest(string(again)), &w); err != nil {
			t.Fatalf("%q re-encoded as %s is refused: %v", body, again, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("%q: %+v re-encoded as %s reads back as %+v", body, v, again, w)
		}
	})
}

func fuzzRequest(body string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/v1/contacts", io.NopCloser(strings.NewReader(body)))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// fuzzCursor is shaped like the services' cursors.
type fuzzCursor struct {
	After uuid.UUID `json:"a"`
	Sort  string    `json:"s,omitempty"`
	Value string    `json:"v,omitempty"`
}

// FuzzDecodeCursor: a cursor from anywhere either decodes or is a
// validation problem on "cursor"; what decodes was valid UTF-8 with no
// repeated key and no NUL, and encodes to a cursor that decodes the same.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(httpkit.EncodeCursor(fuzzCursor{After: uuid.MustParse("01936e3c-5b1a-7c3e-9a2b-123456789abc"), Sort: "name", Value: "Анна"}))
	f.Add(httpkit.EncodeCursor(fuzzCursor{}))
	for _, raw := range []string{`{"a":"00000000-0000-0000-0000-000000000000","a":"00000000-0000-0000-0000-000000000001"}`,
		"{\"v\":\"\xff\"}", `{"v":"\u0000"}`, `{"v":"\udc00"}`, `{"x":1}`, `{"a":"nope"}`, `{}]`, `{"s":"a"} x`} {
		f.Add(rawCursor(raw))
	}
	f.Add("")
	f.Add("!!!")
	f.Add("eyJhIjoiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIn0=")
	f.Fuzz(func(t *testing.T, s string) {
		var c fuzzCursor
		err := httpkit.DecodeCursor(s, &c)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "cursor" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		if !utf8.Valid(raw) || repeatedKey(raw) || strings.ContainsRune(c.Value+c.Sort, 0) {
			t.Fatalf("%q (%q) accepted as %+v", s, raw, c)
		}
		var again fuzzCursor
		if err := httpkit.DecodeCursor(httpkit.EncodeCursor(c), &again); err != nil || again != c {
			t.Fatalf("%+v does not round-trip: %+v %v", c, again, err)
		}
	})
}

// rawCursor encodes raw JSON the way EncodeCursor encodes a value.
func rawCursor(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
