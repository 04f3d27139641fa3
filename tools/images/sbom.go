package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The SPDX 2.3 JSON document (https://spdx.github.io/spdx-spec/v2.3/), only
// the fields an SBOM of a Go binary needs.
type (
	spdxDocument struct {
		SPDXVersion       string             `json:"spdxVersion"`
		DataLicense       string             `json:"dataLicense"`
		SPDXID            string             `json:"SPDXID"`
		Name              string             `json:"name"`
		DocumentNamespace string             `json:"documentNamespace"`
		CreationInfo      spdxCreationInfo   `json:"creationInfo"`
		Packages          []spdxPackage      `json:"packages"`
		Relationships     []spdxRelationship `json:"relationships"`
	}
	spdxCreationInfo struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	spdxPackage struct {
		Name                  string            `json:"name"`
		SPDXID                string            `json:"SPDXID"`
		VersionInfo           string            `json:"versionInfo"`
		DownloadLocation      string            `json:"downloadLocation"`
		FilesAnalyzed         bool              `json:"filesAnalyzed"`
		LicenseConcluded      string            `json:"licenseConcluded"`
		LicenseDeclared       string            `json:"licenseDeclared"`
		CopyrightText         string            `json:"copyrightText"`
		PrimaryPackagePurpose string            `json:"primaryPackagePurpose"`
		Comment               string            `json:"comment,omitempty"`
		ExternalRefs          []spdxExternalRef `json:"externalRefs"`
	}
	spdxExternalRef struct {
		ReferenceCategory string `json:"referenceCategory"`
		ReferenceType     string `json:"referenceType"`
		ReferenceLocator  string `json:"referenceLocator"`
	}
	spdxRelationship struct {
		SPDXElementID      string `json:"spdxElementId"`
		RelationshipType   string `json:"relationshipType"`
		RelatedSPDXElement string `json:"relatedSpdxElement"`
	}
)

// sbom is the SPDX document of the Go binary exe (at path, named binary):
// its main module, every module linked into it and the Go standard
// library, read from the build information the Go linker embeds — the
// modules actually in the binary, not those a go.mod lists. Modules of the
// workspace carry no version of their own ("(devel)"): they are given the
// build's version, since they were built from the same commit.
func sbom(path, binary string, exe []byte, src source) ([]byte, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("build info of %s: %w", path, err)
	}
	sum := sha256.Sum256(exe)
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        binary + "-" + src.Version,
		// Unique per binary, yet the same for the same binary.
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s-%s", strings.TrimSuffix(src.URL, "/"),
			binary, url.PathEscape(src.Version), hex.EncodeToString(sum[:])),
		CreationInfo: spdxCreationInfo{
			Created:  src.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: rapport-tools-images"},
		},
	}
	add := func(path, version, purpose, comment string) string {
		id := fmt.Sprintf("SPDXRef-Package-%d-%s", len(doc.Packages), spdxIDUnsafe.ReplaceAllString(path, "-"))
		location := "NOASSERTION"
		if purpose == "APPLICATION" && src.URL != "" {
			location = src.URL
		}
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: path, SPDXID: id, VersionInfo: version,
			DownloadLocation: location, LicenseConcluded: "NOASSERTION",
			LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			PrimaryPackagePurpose: purpose, Comment: comment,
			ExternalRefs: []spdxExternalRef{{
				ReferenceCategory: "PACKAGE-MANAGER",
				ReferenceType:     "purl",
				ReferenceLocator:  purl(path, version),
			}},
		})
		return id
	}

	mainID := add(info.Main.Path, moduleVersion(info.Main.Version, src.Version), "APPLICATION",
		fmt.Sprintf("The main module of %s (package %s), built by %s.", binary, info.Path, info.GoVersion))
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", mainID})
	for _, dep := range info.Deps {
		path, version, comment := dep.Path, moduleVersion(dep.Version, src.Version), ""
		if r := dep.Replace; r != nil {
			if r.Version != "" {
				// Replaced by another module: that is the code in the binary.
				path, version = r.Path, r.Version
				comment = "Replaces " + dep.Path + "@" + dep.Version + "."
			} else {
				comment = "Replaced by the directory " + r.Path + " of the source tree."
				version = src.Version
			}
		}
		id := add(path, version, "LIBRARY", comment)
		doc.Relationships = append(doc.Relationships, spdxRelationship{mainID, "DEPENDS_ON", id})
	}
	// The standard library, as scanners (grype, trivy) expect it.
	std := add("stdlib", info.GoVersion, "LIBRARY", "The Go standard library and runtime.")
	doc.Relationships = append(doc.Relationships, spdxRelationship{mainID, "DEPENDS_ON", std})

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// spdxIDUnsafe matches what an SPDX identifier may not hold.
var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// moduleVersion is v, or the build's version for a module of the source
// tree, which the build info calls "(devel)".
func moduleVersion(v, build string) string {
	if v == "" || v == "(devel)" {
		return build
	}
	return v
}

// purl is the package URL of a Go module: pkg:golang/<path>@<version>,
// each segment percent-encoded as the purl specification asks (a "+" of
// "+incompatible" becomes %2B).
func purl(path, version string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = purlEscape(s)
	}
	return "pkg:golang/" + strings.Join(segments, "/") + "@" + purlEscape(version)
}

func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
