// Package salesapi asks the sales service about deals on behalf of the user
// whose request contacts is serving: the user's own token goes along, so
// sales applies its own tenancy and visibility rules.
package salesapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/httpkit"
)

// Client is service.Deals over HTTP.
type Client struct{ peer *httpkit.Peer }

// New returns a client of the sales service at base.
func New(base *url.URL) *Client { return &Client{peer: httpkit.NewPeer("sales", base)} }

// Deal reports whether the caller may read the deal id: sales answers 200
// for a deal the caller sees and 404 for one that is missing, deleted,
// another tenant's or hidden from them.
func (c *Client) Deal(ctx context.Context, id uuid.UUID) (bool, error) {
	path := "v1/deals/" + id.String()
	resp, _, err := c.peer.Do(ctx, http.MethodGet, path, nil)
	switch {
	case err != nil:
		return false, err
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	default:
		return false, c.peer.UnexpectedStatus(http.MethodGet, path, resp)
	}
}
