package transport

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// pairJSON is a likely duplicate pair as the API shows it.
type pairJSON struct {
	ContactIDs [2]uuid.UUID `json:"contact_ids"`
	Score      float64      `json:"score"`
	Reasons    []reasonJSON `json:"reasons"`
}

// reasonJSON is one thing the pair has in common: {"kind":"email","value":…},
// {"kind":"phone","value":"+7…"} or {"kind":"name"}.
type reasonJSON struct {
	Kind  string `json:"kind"`
	Value string `json:"value,omitempty"`
}

func pairView(p domain.Pair) pairJSON {
	v := pairJSON{ContactIDs: [2]uuid.UUID{p.A, p.B}, Score: p.Score(), Reasons: make([]reasonJSON, len(p.Reasons))}
	for i, r := range p.Reasons {
		v.Reasons[i] = reasonJSON(r)
	}
	return v
}

// pairCursor is the opaque position of a page of the duplicate list.
type pairCursor struct {
	Stream string    `json:"s"`
	Group  string    `json:"g"`
	A      uuid.UUID `json:"a"`
	B      uuid.UUID `json:"b"`
}

func decodeDuplicates(_ context.Context, r *http.Request) (any, error) {
	limit, err := httpkit.ParseLimit(r, service.DefaultLimit, service.MaxLimit)
	if err != nil {
		return nil, err
	}
	q := service.PairQuery{Limit: limit}
	if s := r.URL.Query().Get("cursor"); s != "" {
		var c pairCursor
		if err := httpkit.DecodeCursor(s, &c); err != nil {
			return nil, err
		}
		q.After = service.PairCursor(c)
	}
	return endpoint.DuplicatesRequest{Query: q}, nil
}

func encodeDuplicates(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.DuplicatesResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	page := httpkit.Page[pairJSON]{Items: make([]pairJSON, 0, len(r.Page.Items))}
	for _, p := range r.Page.Items {
		page.Items = append(page.Items, pairView(p))
	}
	if n := r.Page.Next; n != nil {
		page.NextCursor = httpkit.EncodeCursor(pairCursor(*n))
	}
	return httpkit.WriteJSON(w, http.StatusOK, page)
}

// idList reads a JSON list of contact ids, reporting each bad one under
// field/index.
func idList(v *apperr.Invalid, field string, in []string) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(in))
	for i, s := range in {
		id, err := uuid.Parse(s)
		if err != nil {
			v.Add(fmt.Sprintf("%s/%d", field, i), "must be a contact id (UUID)")
			continue
		}
		out = append(out, id)
	}
	return out
}

func decodeMerge(_ context.Context, r *http.Request) (any, error) {
	id, version, err := pathIDAndVersion(r, domain.ErrContactNotFound)
	if err != nil {
		return nil, err
	}
	var b struct {
		From []string `json:"from"`
	}
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	from := idList(&v, "from", b.From)
	return endpoint.MergeRequest{ID: id, IfMatch: version, From: from}, v.Err()
}

// decodeUnmerge reads an unmerge: without a body, every contact merged into
// the target comes back.
func decodeUnmerge(_ context.Context, r *http.Request) (any, error) {
	id, version, err := pathIDAndVersion(r, domain.ErrContactNotFound)
	if err != nil {
		return nil, err
	}
	req := endpoint.UnmergeRequest{ID: id, IfMatch: version}
	if r.Body == nil || r.Body == http.NoBody {
		return req, nil
	}
	var b struct {
		Contacts *[]string `json:"contacts"`
	}
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	var v apperr.Invalid
	if b.Contacts != nil {
		if len(*b.Contacts) == 0 {
			// An empty list is not "all of them": that is no list at all.
			v.Add("contacts", "at least one id; leave the list out to restore every merged contact")
		}
		req.Contacts = idList(&v, "contacts", *b.Contacts)
	}
	return req, v.Err()
}

// unmergeJSON answers an unmerge: the target and the contacts restored.
type unmergeJSON struct {
	Contact  contactJSON   `json:"contact"`
	Restored []contactJSON `json:"restored"`
}

func encodeUnmerge(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.UnmergeResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	body := unmergeJSON{Contact: contactView(r.Contact), Restored: make([]contactJSON, 0, len(r.Restored))}
	for _, c := range r.Restored {
		body.Restored = append(body.Restored, contactView(c))
	}
	return writeRecord(w, false, "/v1/contacts", r.Contact.ID(), r.Contact.Version(), body)
}
