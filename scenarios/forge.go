package scenarios

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/xaa-sandbox/xaa-sandbox/internal/jwtforge"
)

// forge crafts a token the way an attacker (or a buggy IdP) would, entirely
// in the runner: the parties under test never help.
func (r *run) forge(ctx context.Context, st *Step, sr *StepReport) (Outcome, error) {
	f := st.Forge
	header := map[string]any{"alg": "RS256", "typ": "oauth-id-jag+jwt"}
	claims := map[string]any{}
	if f.From != "" {
		raw, err := r.expand(f.From)
		if err != nil {
			return Outcome{}, err
		}
		d := decode("from", raw)
		if d == nil {
			return Outcome{}, fmt.Errorf("forge.from is not a JWT")
		}
		header, claims = d.Header, d.Claims
	}
	for k, v := range f.Header {
		v, err := r.expandAny(v)
		if err != nil {
			return Outcome{}, err
		}
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	for k, v := range f.Claims {
		v, err := r.expandAny(v)
		if err != nil {
			return Outcome{}, err
		}
		if s, ok := v.(string); ok {
			if t, ok := timeExpr(s); ok {
				v = t
			}
		}
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	for _, k := range f.Remove {
		delete(claims, k)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return Outcome{}, err
	}
	var tok, how string
	switch f.Sign {
	case "none":
		header["alg"] = "none"
		hb, _ := json.Marshal(header)
		tok = base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
		how = `unsigned: alg "none" and an empty signature`
	case "attacker":
		header["alg"] = "RS256"
		tok, err = sign(jose.RS256, r.attacker, header, payload)
		how = "signed with a key the attacker generated (not in the IdP's JWKS), under the kid shown"
	case "idp", "todo0", "agent0":
		dir, db, who := r.t.IdPDataDir, "idp.db", "the IdP's"
		switch f.Sign {
		case "todo0":
			dir, db, who = r.t.Todo0DataDir, "todo0.db", "the Todo0 AS's"
		case "agent0":
			dir, db, who = r.t.Agent0DataDir, "agent0.db", "Agent0's"
		}
		k, err2 := activeKey(ctx, dir, db)
		if err2 != nil {
			return Outcome{}, err2
		}
		header["alg"], header["kid"] = k.Algorithm, k.KeyID
		tok, err = sign(jose.SignatureAlgorithm(k.Algorithm), k.Key, header, payload)
		how = "signed with " + who + " real signing key (the runner read it from the party's database): the signature is valid, only the claims are wrong"
	case "hs256-idp-public":
		pemKey, kid, err2 := r.idpPublicPEM(ctx, sr)
		if err2 != nil {
			return Outcome{}, err2
		}
		header["alg"] = "HS256"
		if _, ok := header["kid"]; !ok {
			header["kid"] = kid
		}
		tok, err = sign(jose.HS256, pemKey, header, payload)
		how = "HS256 with the IdP's PUBLIC key (from its JWKS) as the HMAC secret: the algorithm-confusion attack"
	}
	if err != nil {
		return Outcome{}, err
	}
	name := "forged"
	if st.Save != "" {
		name = st.Save
	}
	r.vars[name] = tok
	if d := decode(name, tok); d != nil {
		sr.Tokens = append(sr.Tokens, *d)
	}
	sr.Notes = append(sr.Notes, "saved as ${"+name+"}: "+how)
	return Outcome{token: tok}, nil
}

// sign makes a compact JWS with exactly the given header fields.
func sign(alg jose.SignatureAlgorithm, key any, header map[string]any, payload []byte) (string, error) {
	return jwtforge.Sign(alg, key, header, payload)
}

var timeRe = regexp.MustCompile(`^now(?:([+-])(\d+(?:ms|s|m|h)))?$`)

// timeExpr turns "now", "now+30s", "now-10m" into a NumericDate.
func timeExpr(s string) (int64, bool) {
	m := timeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	t := time.Now()
	if m[2] != "" {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return 0, false
		}
		if m[1] == "-" {
			d = -d
		}
		t = t.Add(d)
	}
	return t.Unix(), true
}

// activeKey reads a party's active signing key from its database. Only a
// sandbox on this machine allows it; it lets scenarios show the checks that
// come after the signature (aud, times, claims) with tokens the party never made.
func activeKey(ctx context.Context, dir, db string) (*jose.JSONWebKey, error) {
	if dir == "" {
		return nil, fmt.Errorf("signing with a party's own key needs its data directory (in-process, or --idp-data-dir / --todo0-data-dir)")
	}
	return jwtforge.ActiveKey(ctx, dir, db)
}

// idpPublicPEM fetches the IdP's JWKS and returns its first key as PEM.
func (r *run) idpPublicPEM(ctx context.Context, sr *StepReport) ([]byte, string, error) {
	resp, call, err := do(ctx, r.hc, request{Party: "idp", Method: http.MethodGet, URL: r.t.IdP + "/oauth2/jwks"})
	sr.Calls = append(sr.Calls, call)
	if err != nil {
		return nil, "", err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Body, &set); err != nil || len(set.Keys) == 0 {
		return nil, "", fmt.Errorf("IdP JWKS unreadable (HTTP %s)", strconv.Itoa(resp.Status))
	}
	k := set.Keys[len(set.Keys)-1]
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), k.KeyID, nil
}
