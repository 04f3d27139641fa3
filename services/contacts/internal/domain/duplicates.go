package domain

import (
	"bytes"
	"math"
	"strings"

	"github.com/google/uuid"
)

// Kinds of evidence that two contacts are one person.
const (
	ReasonEmail = "email" // they share a normalised e-mail
	ReasonPhone = "phone" // they share a phone (E.164)
	ReasonName  = "name"  // similar names at the same company
)

// reasonWeight is how likely two contacts are one person on one piece of
// evidence alone. A shared e-mail rarely belongs to two people; a phone more
// often does (a landline, a family's number); two people of one company can
// share a name, and the name key is a loose match (see migration 00009).
var reasonWeight = map[string]float64{ReasonEmail: 0.9, ReasonPhone: 0.8, ReasonName: 0.6}

// MaxDuplicateGroup bounds the contacts that share one channel or one name
// key and still count as duplicates: an office switchboard or an info@
// address held by a hundred contacts says nothing about any two of them,
// and would flood the list with thousands of pairs.
const MaxDuplicateGroup = 50

// Reason is one thing two contacts have in common.
type Reason struct {
	Kind  string // ReasonEmail, ReasonPhone or ReasonName
	Value string // the shared e-mail or phone; "" for a name
}

// ReasonOfKey reads a channel key of contact_keys ("email:…", "phone:+…").
func ReasonOfKey(key string) Reason {
	kind, value, _ := strings.Cut(key, ":")
	return Reason{Kind: kind, Value: value}
}

// Pair is two contacts that are likely one person, the lower id first.
type Pair struct {
	A, B    uuid.UUID
	Reasons []Reason
}

// Score is how likely the pair is one person, from 0 to 1: each reason is
// taken as independent evidence with its weight w (e-mail 0.9, phone 0.8,
// name 0.6), and the score is 1 − ∏(1 − w), rounded to three decimals. One
// shared channel therefore always outscores a similar name (0.9 or 0.8
// against 0.6), and every further reason raises the score: e-mail and name
// 0.96, e-mail and phone 0.98.
func (p Pair) Score() float64 {
	miss := 1.0
	for _, r := range p.Reasons {
		miss *= 1 - reasonWeight[r.Kind]
	}
	return math.Round((1-miss)*1000) / 1000
}

// CompareIDs orders ids as PostgreSQL orders uuids: bytewise.
func CompareIDs(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// PairsOf calls yield with every two contacts of a group (ids sorted
// ascending, as the database returns them), the lower id first, in order,
// starting after the pair (a, b) when a is not uuid.Nil; it stops when
// yield returns false.
func PairsOf(ids []uuid.UUID, a, b uuid.UUID, yield func(x, y uuid.UUID) bool) bool {
	for i, x := range ids {
		if a != uuid.Nil && CompareIDs(x, a) < 0 {
			continue
		}
		for _, y := range ids[i+1:] {
			if x == a && CompareIDs(y, b) <= 0 {
				continue
			}
			if !yield(x, y) {
				return false
			}
		}
	}
	return true
}
