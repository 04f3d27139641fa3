package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Checks jwx leaves out. It reads padded, line-broken and non-canonical
// base64 and NumericDates written as strings, so one token has many
// spellings and we would accept what a strict verifier down the line
// refuses; these run on the raw token before any signature check.

// segmentNames name a compact JWS's parts in messages.
var segmentNames = [3]string{"header", "payload", "signature"}

// base64URL is the RFC 4648 §5 alphabet.
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// base64URLValue maps a byte to its 6-bit value, or -1 off the alphabet.
var base64URLValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base64URL) {
		t[base64URL[i]] = int8(i)
	}
	return t
}()

// strictPayload checks that token is three non-empty segments of canonical
// base64url without padding (RFC 7515 §2, §7.1) and returns the decoded
// payload. The caller has checked that there are exactly two dots.
func strictPayload(token string) ([]byte, error) {
	header, rest, _ := strings.Cut(token, ".")
	payload, signature, _ := strings.Cut(rest, ".")
	for i, seg := range [3]string{header, payload, signature} {
		if err := canonicalBase64URL(seg); err != "" {
			return nil, invalid(fmt.Sprintf("the token's %s %s; a JWT's three parts are base64url without padding (RFC 7515)", segmentNames[i], err), nil)
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, invalid("the token's payload is not base64url", err)
	}
	return b, nil
}

// canonicalBase64URL says what is wrong with seg as unpadded base64url whose
// unused trailing bits are zero, or "" when nothing is.
func canonicalBase64URL(seg string) string {
	if seg == "" {
		return "is empty"
	}
	for i := range len(seg) {
		if base64URLValue[seg[i]] < 0 {
			if seg[i] == '=' {
				return "has padding"
			}
			return fmt.Sprintf("is not base64url (%q at %d)", seg[i], i)
		}
	}
	last := base64URLValue[seg[len(seg)-1]]
	switch len(seg) % 4 {
	case 1:
		return "is not base64url (its length leaves a stray character)"
	case 2:
		if last&0x0f != 0 {
			return "is not canonical base64url (its last character carries unused bits)"
		}
	case 3:
		if last&0x03 != 0 {
			return "is not canonical base64url (its last character carries unused bits)"
		}
	}
	return ""
}

// dateClaims are the claims RFC 7519 makes NumericDates.
var dateClaims = [...]string{"exp", "nbf", "iat"}

// checkNumericDates refuses exp, nbf or iat that is not a JSON number of
// seconds (RFC 7519 §2), such as "1700000000" or an RFC 3339 string.
func checkNumericDates(payload []byte) error {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return invalid("the token's payload is not a JSON object of claims", err)
	}
	for _, name := range dateClaims {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		if kind := jsonKind(raw); kind != "number" {
			return invalid(fmt.Sprintf("the token's %s claim is a JSON %s; it must be a NumericDate, a JSON number of seconds since 1970 (RFC 7519)", name, kind), nil)
		}
	}
	return nil
}

// jsonKind names the type of a valid JSON value by its first byte.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
}

// checkLifetime refuses a token meant to live longer than max: from iat to
// exp, or from now to exp when it does not say when it was issued.
func checkLifetime(exp, iat, now time.Time, max time.Duration) error {
	from, what := iat, "exp − iat"
	if iat.IsZero() {
		from, what = now, "exp − now"
	}
	if life := exp.Sub(from); life > max {
		return invalid(fmt.Sprintf("the token's lifetime of %s (%s) exceeds the maximum of %s (AUTH_MAX_TOKEN_LIFETIME)",
			life.Round(time.Second), what, max), nil)
	}
	return nil
}
