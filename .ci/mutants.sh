#!/usr/bin/env bash
# A light mutation check: each mutant below disables one protocol rule in a
# temporary copy of the tree and names the test that must then fail. A
# mutant that survives (its test still passes) or does not apply or build is
# reported, and the script exits 1. The working tree is never touched.
#
#   .ci/mutants.sh            all mutants
#   .ci/mutants.sh NAME...    only these
#
# A mutant is: name, package, test regexp, then one or more pairs of file and
# Perl substitution (applied with perl -0pi, so \n matches across lines).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/xaa-mutants.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$root"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work" 2>/dev/null || true
cd "$work"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

only=("$@")
killed=0; survived=0; broken=0; total=0
start=$(date +%s)

mutant() {
	local name="$1" pkg="$2" tests="$3"; shift 3
	if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then return; fi
	total=$((total + 1))
	local files=() f
	while [ $# -gt 0 ]; do
		f="$1"
		files+=("$f")
		cp "$f" "$f.orig"
		perl -0pi -e "$2" "$f"
		if cmp -s "$f" "$f.orig"; then
			echo "BROKEN   $name: the substitution does not apply to $f"
			broken=$((broken + 1)); restore "${files[@]}"; return
		fi
		shift 2
	done
	if ! go build "./$pkg" 2>/dev/null || ! go vet "./$pkg" >/dev/null 2>&1; then
		echo "BROKEN   $name: the mutant does not build"
		broken=$((broken + 1)); restore "${files[@]}"; return
	fi
	if go test -count=1 -run "$tests" "./$pkg" >/dev/null 2>&1; then
		echo "SURVIVED $name: $tests in ./$pkg still passes"
		survived=$((survived + 1))
	else
		echo "killed   $name by $tests"
		killed=$((killed + 1))
	fi
	restore "${files[@]}"
}

restore() {
	local f
	for f in "$@"; do mv "$f.orig" "$f"; done
}

# --- Agent0, the client (checklist 5) ---
mutant agent0-discovery-profile agent0/server 'TestClientDiscoveryRefusals' \
	agent0/server/connect.go 's/if !slices\.Contains\(profiles\.Profiles, oauth\.GrantProfileIDJAG\) \{/if !slices.Contains(profiles.Profiles, oauth.GrantProfileIDJAG) && false {/'
mutant agent0-discovery-401 agent0/server 'TestClientDiscoveryRefusals' \
	agent0/server/connect.go 's/if resp\.StatusCode != http\.StatusUnauthorized \{/if false {/'
mutant agent0-discovery-origin agent0/server 'TestClientDiscoveryRefusals' \
	agent0/server/connect.go 's/if err := sameOrigin\(prmURL, s\.cfg\.MCPURL\); err != nil \{/if err := sameOrigin(prmURL, s.cfg.MCPURL); err != nil && false {/'
mutant agent0-discovery-order agent0/server 'TestClientDiscoversBeforeExchanging' \
	agent0/server/connect.go 's/MCPResourceURI:   d\.Resource,/MCPResourceURI:   s.cfg.MCPURL + "x",/'
mutant agent0-cache-token agent0/server 'TestClientCachesAccessToken' \
	agent0/server/connect.go 's/if c\.session != nil \{\n\t\treturn c\.session, c, nil/if c.session != nil \&\& false {\n\t\treturn c.session, c, nil/'
mutant agent0-silent-reexchange agent0/server 'TestClientReexchangesSilentlyOn401' \
	agent0/server/connect.go 's/(IDTokenFetcher: func\(ctx context\.Context\) \(\*oauth2\.Token, error\) \{\n)/$1\t\t\tif c.session != nil {\n\t\t\t\treturn nil, errors.New("no re-exchange")\n\t\t\t}\n/'
mutant agent0-renew-id-token agent0/server 'TestClientRenewsIDTokenWithRefreshToken' \
	agent0/server/session.go 's/if time\.Unix\(exp, 0\)\.After\(s\.now\(\)\.Add\(30 \* time\.Second\)\) \{/if true {/'
mutant agent0-record-refusal agent0/server 'TestClientRecordsRefusal' \
	agent0/server/connect.go 's/if isRefusal\(err\) \{/if false \&\& isRefusal(err) {/g'
mutant agent0-log-tokens agent0/server 'TestClientNeverLogsTokensOrPutsThemInURLs' \
	agent0/server/session.go 's/(\tif time\.Unix\(exp, 0\)\.After)/\ts.log.Info("exchange", "subject_token", idt)\n$1/'
mutant agent0-token-in-url agent0/server 'TestClientNeverLogsTokensOrPutsThemInURLs' \
	agent0/server/recorder.go 's/(\tu := \*req\.URL\n)/\tif a := req.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {\n\t\treq = req.Clone(req.Context())\n\t\treq.URL.RawQuery = "access_token=" + a[7:]\n\t}\n$1/'

# The scenario that claims to guard silent re-exchange must turn red too.
mutant scenario-silent-reexchange scenarios 'TestCatalogue/agent0-silent-reexchange' \
	agent0/server/connect.go 's/(IDTokenFetcher: func\(ctx context\.Context\) \(\*oauth2\.Token, error\) \{\n)/$1\t\t\tif c.session != nil {\n\t\t\t\treturn nil, errors.New("no re-exchange")\n\t\t\t}\n/'

# --- Todo0 MCP (checklist 4) ---
mutant mcp-forwards-token todo0-mcp/server 'TestToolsStructuredAndErrors' \
	todo0-mcp/server/tools.go 's/t, err := s\.api\.create\(ctx, /t, err := s.api.create(context.WithValue(ctx, fwdKey{}, req.Extra.Header.Get("Authorization")), /' \
	todo0-mcp/server/todoapi.go 's/(\treq\.SetBasicAuth[^\n]*\n)/$1\tif v, _ := ctx.Value(fwdKey{}).(string); v != "" {\n\t\treq.Header.Set("X-Forwarded-Authorization", v)\n\t}\n/; s/$/\ntype fwdKey struct{}\n/'
mutant mcp-audience todo0-mcp/server 'TestBearerBattery' \
	todo0-mcp/server/server.go 's/Audience: s\.resource,/Audience: "",/'

# --- Todo0 AS (checklist 3) ---
mutant as-metadata-lists-idps todo0/server 'TestASMetadata' \
	todo0/server/as.go 's/("scopes_supported": knownScopes,)/$1\n\t\t"federation": map[string]any{"trusted": []string{s.cfg.IdPIssuer}},/'
mutant as-typ todo0/server 'TestForgedIDJAGs' \
	todo0/server/as.go 's/Typ:(\s+)oauth\.TypIDJAG,/Typ:$1"",/'

# --- Client authentication (shared) ---
mutant clientauth-assertion-type shared/clientauth 'TestAuthenticate' \
	shared/clientauth/clientauth.go 's/if form\.Get\("client_assertion_type"\) != oauth\.ClientAssertionTypeJWTBearer \{/if false {/'

# --- IdP (checklist 1) ---
mutant idp-missing-grant-type idp/server 'TestTokenEndpointGrantType' \
	idp/server/token.go 's/\tcase "":\n\t\terr = oauth\.InvalidRequest\("grant_type is missing"\)\n//'
mutant idp-identity-chaining-metadata idp/server 'TestDiscoveryMetadata' \
	idp/server/token.go 's/("identity_chaining_requested_token_types_supported": )\[\]string\{oauth\.TokenTypeIDJAG\}/$1 . "[]string{}"/e'

# --- Rich authorization requests, actor tokens, resource (ID-JAG draft 4.3.3, 4.4.1; RFC 9396; RFC 8693) ---
mutant idp-rar-narrowing idp/server 'TestExchangeAuthorizationDetails' \
	idp/server/exchange_details.go 's/granted := rar\.Narrow\(req, conn\.AuthorizationDetails\)/granted := req/'
mutant idp-actor-token-type idp/server 'TestExchangeActorToken' \
	idp/server/exchange_details.go 's/case tok != "" && typ == "":/case false:/'
mutant as-resource-in-response todo0/server 'TestRedeemGrantedDetails' \
	todo0/server/as.go 's/Resource: resource, AuthorizationDetails: details\}/AuthorizationDetails: details}/'
mutant mcp-rar-actions todo0-mcp/server 'TestToolsHonourAuthorizationDetails' \
	todo0-mcp/server/tools.go 's/!rar\.Permits\(details, demo\.Todo0TodosDetailType, action\)/false/'

# --- DPoP (RFC 9449, ID-JAG draft sender constraining) ---
mutant dpop-ath shared/dpop 'TestVerify' \
	shared/dpop/dpop.go 's/if c\.ATH != TokenHash\(req\.AccessToken\) \{/if false {/'
mutant idp-dpop-binds-id-jag idp/server 'TestExchangeDPoP' \
	idp/server/exchange.go 's/if jkt != "" \{\n(\t+claims\.Cnf)/if false \&\& jkt != "" {\n$1/'
mutant as-bound-id-jag-needs-proof todo0/server 'TestRedeemDPoP' \
	todo0/server/redeem_dpop.go 's/if cnf != nil \{\n(\t+return "", oauth\.InvalidGrant\("proof of possession)/if false {\n$1/'
mutant as-proof-key-matches-cnf todo0/server 'TestRedeemDPoP' \
	todo0/server/redeem_dpop.go 's/if cnf != nil && p\.JKT != cnf\.JKT \{/if false {/'
mutant mcp-bound-token-as-bearer todo0-mcp/server 'TestDPoPBoundTokens' \
	todo0-mcp/server/dpop.go 's/case !dpopScheme:/case false:/'
mutant agent0-dpop-downgrade agent0/server 'TestClientRefusesUnboundIDJAG' \
	agent0/server/dpop.go 's/jkt != t\.key\.JKT\(\)/jkt == "not-a-thumbprint"/'

# --- Step-up (ID-JAG draft step-up, RFC 9470) ---
mutant idp-step-up idp/server 'TestExchangeStepUp' \
	idp/server/exchange_stepup.go 's/if conn\.MaxAuthAge <= 0 \{/if true {/'
mutant agent0-step-up-not-sticky agent0/server 'TestClientStepUpIsNotARefusal' \
	agent0/server/connect.go 's/return false \/\/ not a refusal/return true \/\/ not a refusal/'

# --- SAML 2.0 subject tokens (ID-JAG draft 4.3.3, RFC 7522 3) ---
mutant idp-saml-signature idp/server 'TestSAMLSubjectTokenRules' \
	idp/server/saml.go 's{a, err := vc\.Validate\(doc\.Root\(\)\)}{a, err := doc.Root(), error(nil)\n\t_ = vc}'
mutant idp-saml-issuer idp/server 'TestSAMLSubjectTokenRules' \
	idp/server/saml.go 's{strings\.TrimSpace\(iss\.Text\(\)\) != s\.cfg\.Issuer}{false}'
mutant idp-saml-audience idp/server 'TestSAMLSubjectTokenRules' \
	idp/server/saml.go 's#if !ok \{ // SAML core#if false && !ok { // SAML core#'
mutant idp-saml-expiry idp/server 'TestSAMLSubjectTokenRules' \
	idp/server/saml.go 's#if !now\.Add\(-skew\)\.Before\(exp\) \{#if false && !now.Add(-skew).Before(exp) {#'
mutant idp-saml-recipient idp/server 'TestSAMLSubjectTokenRules' \
	idp/server/saml.go 's#if d\.SelectAttrValue\("Recipient", ""\) != acs \{#if false {#'
mutant idp-saml-hook idp/server 'TestSAMLSubjectToken$' \
	idp/server/exchange.go 's{\tcase oauth\.TokenTypeSAML2:\n\t\tsub, err = s\.samlSubject\(ctx, c, form\.Get\("subject_token"\)\) // saml\.go\n}{}'

end=$(date +%s)
echo "mutants: $total, killed $killed, survived $survived, broken $broken ($((end - start))s)"
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
