package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/access"
	"github.com/rapportcrm/rapport/pkg/observe"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

type (
	// DuplicatesRequest asks for a page of likely duplicate pairs.
	DuplicatesRequest struct{ Query service.PairQuery }
	// MergeRequest folds From into ID.
	MergeRequest struct {
		ID      uuid.UUID
		IfMatch access.IfMatch
		From    []uuid.UUID
	}
	// UnmergeRequest restores Contacts (all, when empty) merged into ID.
	UnmergeRequest struct {
		ID       uuid.UUID
		IfMatch  access.IfMatch
		Contacts []uuid.UUID
	}
)

// DuplicatesResponse answers a page of likely duplicate pairs.
type DuplicatesResponse struct {
	Page service.PairPage
	Err  error
}

func (r DuplicatesResponse) Failed() error { return r.Err }

// UnmergeResponse answers an unmerge: the target and the restored contacts.
type UnmergeResponse struct {
	Contact  *domain.Contact
	Restored []*domain.Contact
	Err      error
}

func (r UnmergeResponse) Failed() error { return r.Err }

// MergeEndpoints list likely duplicates, merge contacts and undo merges.
type MergeEndpoints struct {
	Duplicates, Merge, Unmerge endpoint.Endpoint
}

// MakeMerges builds the duplicate and merge endpoints over s, observed by o.
func MakeMerges(s service.Merges, o *observe.Observer) MergeEndpoints {
	wrap := func(name string, e endpoint.Endpoint) endpoint.Endpoint { return o.Middleware(name)(e) }
	return MergeEndpoints{
		Duplicates: wrap("DuplicatePairs", func(ctx context.Context, req any) (any, error) {
			p, err := s.DuplicatePairs(ctx, req.(DuplicatesRequest).Query)
			return DuplicatesResponse{Page: p, Err: err}, nil
		}),
		Merge: wrap("MergeContacts", func(ctx context.Context, req any) (any, error) {
			r := req.(MergeRequest)
			c, err := s.MergeContacts(ctx, r.ID, r.IfMatch, r.From)
			return ContactResponse{Contact: c, Err: err}, nil
		}),
		Unmerge: wrap("UnmergeContacts", func(ctx context.Context, req any) (any, error) {
			r := req.(UnmergeRequest)
			c, restored, err := s.UnmergeContacts(ctx, r.ID, r.IfMatch, r.Contacts)
			return UnmergeResponse{Contact: c, Restored: restored, Err: err}, nil
		}),
	}
}
