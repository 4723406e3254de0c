// Package oauth holds the protocol constants every party shares and the one
// error type (RFC 6749 section 5.2) with the one function that writes it.
package oauth

// Grant types.
const (
	GrantTypeAuthorizationCode = "authorization_code"
	GrantTypeRefreshToken      = "refresh_token"
	GrantTypeClientCredentials = "client_credentials"
	GrantTypeTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantTypeJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Token types (RFC 8693 section 3 and the ID-JAG draft).
const (
	TokenTypeIDJAG        = "urn:ietf:params:oauth:token-type:id-jag"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeSAML2        = "urn:ietf:params:oauth:token-type:saml2"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

// JOSE "typ" header values.
const (
	TypIDJAG       = "oauth-id-jag+jwt"
	TypAccessToken = "at+jwt"
	TypJWT         = "JWT"
)

// Grant profile advertised by a resource AS that redeems ID-JAGs.
const GrantProfileIDJAG = "urn:ietf:params:oauth:grant-profile:id-jag"

// Client authentication.
const (
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
	AuthMethodNone              = "none"

	ClientAssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// MCP extension id for Enterprise-Managed Authorization.
const ExtensionEnterpriseManagedAuthorization = "io.modelcontextprotocol/enterprise-managed-authorization"
