package transport

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/httpkit"
	"github.com/rapportcrm/rapport/services/contacts/internal/domain"
	"github.com/rapportcrm/rapport/services/contacts/internal/endpoint"
	"github.com/rapportcrm/rapport/services/contacts/internal/service"
)

// companyBody is the JSON a client sends to create a company.
type companyBody struct {
	Name               string         `json:"name"`
	LegalName          string         `json:"legal_name"`
	TaxID              string         `json:"tax_id"`
	RegistrationNumber string         `json:"registration_number"`
	LegalAddress       string         `json:"legal_address"`
	Industry           string         `json:"industry"`
	Website            string         `json:"website"`
	Phones             []string       `json:"phones"`
	Emails             []string       `json:"emails"`
	OwnerID            string         `json:"owner_id"`
	Tags               []string       `json:"tags"`
	Custom             map[string]any `json:"custom"`
}

// companyPatchBody is a partial update: absent members stay as they are.
type companyPatchBody struct {
	Name               *string        `json:"name"`
	LegalName          *string        `json:"legal_name"`
	TaxID              *string        `json:"tax_id"`
	RegistrationNumber *string        `json:"registration_number"`
	LegalAddress       *string        `json:"legal_address"`
	Industry           *string        `json:"industry"`
	Website            *string        `json:"website"`
	Phones             *[]string      `json:"phones"`
	Emails             *[]string      `json:"emails"`
	OwnerID            *string        `json:"owner_id"`
	Tags               *[]string      `json:"tags"`
	Custom             map[string]any `json:"custom"`
}

// companyJSON is a company as the API shows it.
type companyJSON struct {
	ID uuid.UUID `json:"id"`
	companyBody
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func companyView(c *domain.Company) companyJSON {
	v := companyJSON{ID: c.ID(), companyBody: companyBody(c.Fields()), Version: c.Version(),
		CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
	if v.Custom == nil {
		v.Custom = map[string]any{}
	}
	return v
}

func decodeCreateCompany(_ context.Context, r *http.Request) (any, error) {
	o, err := writeOptions(r)
	if err != nil {
		return nil, err
	}
	var b companyBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.CreateCompanyRequest{Fields: domain.CompanyFields(b), Options: o}, nil
}

func decodeUpdateCompany(_ context.Context, r *http.Request) (any, error) {
	id, version, err := pathIDAndVersion(r, domain.ErrCompanyNotFound)
	if err != nil {
		return nil, err
	}
	o, err := writeOptions(r)
	if err != nil {
		return nil, err
	}
	var b companyPatchBody
	if err := httpkit.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	return endpoint.UpdateCompanyRequest{ID: id, IfMatch: version, Patch: domain.CompanyPatch(b), Options: o}, nil
}

// decodeCompanyQuery reads the search box and the page of a company list,
// or of an export of the companies a search finds.
func decodeCompanyQuery(_ context.Context, r *http.Request) (any, error) {
	limit, after, err := decodePage(r)
	if err != nil {
		return nil, err
	}
	q := service.CompanyQuery{Limit: limit, After: after, Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	return endpoint.ListCompaniesRequest{Query: q}, nil
}

func encodeCompany(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.CompanyResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writeRecord(w, r.Created, "/v1/companies", r.Company.ID(), r.Company.Version(), companyView(r.Company))
}

func encodeCompanies(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.ListCompaniesResponse)
	if r.Err != nil {
		httpkit.EncodeError(ctx, r.Err, w)
		return nil
	}
	return writePage(w, r.Page, companyView)
}
