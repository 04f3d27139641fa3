package httpkit

import (
	"bytes"
	"encoding/json"
)

// Nullable is a JSON member of a partial update that can be absent (leave
// the field alone), null (clear it) or a value (set it), which a pointer
// cannot tell apart.
type Nullable[T any] struct {
	Set   bool // the member was present
	Null  bool // it was null
	Value T
}

// UnmarshalJSON records presence; encoding/json calls it only for members
// that are present, null included.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// Ptr is the patch pointer of n: nil when absent, a pointer to the zero value
// when null, else a pointer to the value.
func (n Nullable[T]) Ptr() *T {
	if !n.Set {
		return nil
	}
	v := n.Value
	return &v
}
