// Package ids holds the one rule every service keeps for optional record
// ids: uuid.Nil means none. JSON answers and nullable columns write none as
// null (Ptr), read null back as uuid.Nil (Of), and events carry it as ""
// (String).
package ids

import "github.com/google/uuid"

// Ptr is id for a nullable column or a JSON member: nil for uuid.Nil.
func Ptr(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// Of is the id a nullable column or member holds: uuid.Nil for nil.
func Of(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

// String is id as an event's field: "" for uuid.Nil.
func String(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}
