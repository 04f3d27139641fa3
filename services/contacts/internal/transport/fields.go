package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
)

// fieldBody is the JSON a tenant admin sends to define a custom field;
// without a position, the field comes after its entity's others.
type fieldBody struct {
	Entity   string          `json:"entity"`
	Key      string          `json:"key"`
	Label    string          `json:"label"`
	Type     string          `json:"type"`
	Required bool            `json:"required"`
	Options  []domain.Option `json:"options"`
	Position *int            `json:"position"`
}

// fieldPatchBody changes a field's label, requiredness, options or position.
type fieldPatchBody struct {
	Label    *string          `json:"label"`
	Required *bool            `json:"required"`
	Options  *[]domain.Option `json:"options"`
	Position *int             `json:"position"`
}

// fieldJSON is a custom field as the API shows it.
type fieldJSON struct {
	ID        uuid.UUID       `json:"id"`
	Entity    string          `json:"entity"`
	Key       string          `json:"key"`
	Label     string          `json:"label"`
	Type      string          `json:"type"`
	Required  bool            `json:"required"`
	Options   []domain.Option `json:"options"`
	Position  int             `json:"position"`
	Version   int64           `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func fieldView(f *domain.Field) fieldJSON {
	d := f.Def()
	if d.Options == nil {
		d.Options = []domain.Option{}
	}
	return fieldJSON{ID: f.ID(), Entity: d.Entity, Key: d.Key, Label: d.Label, Type: d.Type, Required: d.Required,
		Options: d.Options, Position: d.Position, Version: f.Version(), CreatedAt: f.CreatedAt(), UpdatedAt: f.UpdatedAt()}
}

func decodeDefineField(_ context.Context, r *http.Request) (any, error) {
	var b fieldBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	d := domain.FieldDef{Entity: b.Entity, Key: b.Key, Label: b.Label, Type: b.Type, Required: b.Required, Options: b.Options}
	return endpoint.DefineFieldRequest{Def: d, Position: b.Position}, nil
}

func decodeListFields(_ context.Context, r *http.Request) (any, error) {
	return endpoint.ListFieldsRequest{Entity: r.URL.Query().Get("entity")}, nil
}

func decodeChangeField(_ context.Context, r *http.Request) (any, error) {
	id, version, err := pathIDAndVersion(r, domain.ErrFieldNotFound)
	if err != nil {
		return nil, err
	}
	var b fieldPatchBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.ChangeFieldRequest{ID: id, IfMatch: version, Patch: domain.FieldPatch(b)}, nil
}

func encodeField(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.FieldResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writeRecord(w, r.Created, "/v1/fields", r.Field.ID(), r.Field.Version(), fieldView(r.Field))
}

func encodeFields(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListFieldsResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	items := make([]fieldJSON, 0, len(r.Fields))
	for _, f := range r.Fields {
		items = append(items, fieldView(f))
	}
	return httpkit.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}
