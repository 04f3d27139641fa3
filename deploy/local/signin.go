package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/pkg/auth"
)

// The gateway's development sign-in page (local mode only) asks this
// process for its tokens: the dev issuer's key stays here, and no program
// shipped to production carries the means to sign one.

// signinRequest is what the gateway sends to POST /token
// (WEB_DEV_SIGNIN_URL).
type signinRequest struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Role     string    `json:"role"`
	User     string    `json:"user"`
	Team     string    `json:"team"`
	TTL      int64     `json:"ttl_seconds"`
}

// startSignin serves POST /token on a loopback port until ctx ends and
// returns its URL.
func startSignin(ctx context.Context, l layout, maxTTL time.Duration) (string, error) {
	iss, err := devIssuer(l)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	addr := ln.Addr().String()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		// Only the gateway, by this address and with JSON: a web page
		// that rebinds a name to loopback, or posts a form, gets nothing.
		if r.Host != addr || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "POST JSON to "+addr+" itself", http.StatusForbidden)
			return
		}
		var req signinRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, "a JSON body {tenant_id, role, user, team, ttl_seconds} is required", http.StatusBadRequest)
			return
		}
		ttl := time.Duration(req.TTL) * time.Second
		switch {
		case req.TenantID == uuid.Nil || req.User == "":
			http.Error(w, "tenant_id and user are required", http.StatusUnprocessableEntity)
			return
		case !slices.Contains(roles, req.Role):
			http.Error(w, "role "+req.Role+" is not a role", http.StatusUnprocessableEntity)
			return
		case ttl <= 0 || ttl > maxTTL:
			http.Error(w, "ttl_seconds must be positive and at most AUTH_MAX_TOKEN_LIFETIME", http.StatusUnprocessableEntity)
			return
		}
		tok, err := iss.Token(auth.Principal{TenantID: req.TenantID, UserID: req.User, Roles: []string{req.Role}, Team: req.Team}, ttl)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/token", nil
}
