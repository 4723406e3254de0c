package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error codes (RFC 6749 5.2, RFC 8693 2.2.2, RFC 6750 3.1).
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrInvalidGrant         = "invalid_grant"
	ErrUnauthorizedClient   = "unauthorized_client"
	ErrUnsupportedGrantType = "unsupported_grant_type"
	ErrInvalidScope         = "invalid_scope"
	ErrInvalidTarget        = "invalid_target"
	ErrAccessDenied         = "access_denied"
	ErrServerError          = "server_error"
	ErrTemporarilyUnavail   = "temporarily_unavailable"
	ErrInvalidToken         = "invalid_token"
	ErrInsufficientScope    = "insufficient_scope"
	ErrUnsupportedRespType  = "unsupported_response_type"
	ErrLoginRequired        = "login_required"
	// RFC 9396 5: authorization_details malformed, or not allowed at all.
	ErrInvalidAuthorizationDetails = "invalid_authorization_details"
	// RFC 9470 3: the user's sign-in is too old (or too weak) for this request.
	ErrInsufficientUserAuthentication = "insufficient_user_authentication"
)

// Error is the one error type of every party's OAuth endpoints. Handlers
// return it; WriteError turns it into the RFC 6749 JSON response.
type Error struct {
	Code        string // RFC 6749 error code
	Description string // for a developer; never secrets or stack traces
	Status      int    // HTTP status; 400 when zero
	// Challenge, when set, is sent as WWW-Authenticate (RFC 6749 5.2 requires it
	// for invalid_client when the client used the Authorization header).
	Challenge string
	// Rule names the checklist rule that failed (e.g. "IDJAG 4.4.1 aud"). It is
	// logged and audited, not sent.
	Rule string
	// Err is the underlying cause, logged, never sent.
	Err error
	// MaxAge is sent as max_age with insufficient_user_authentication
	// (RFC 9470 3, ID-JAG draft step-up): how recent a sign-in must be.
	MaxAge *int64
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status the error is written with.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// WithRule returns a copy of e that names the rule it enforces.
func (e *Error) WithRule(rule string) *Error {
	c := *e
	c.Rule = rule
	return &c
}

// Errorf builds an Error with status 400.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// InvalidRequest, InvalidGrant, ... are shorthands for the common codes.
func InvalidRequest(format string, args ...any) *Error {
	return Errorf(ErrInvalidRequest, format, args...)
}

func InvalidGrant(format string, args ...any) *Error {
	return Errorf(ErrInvalidGrant, format, args...)
}

func InvalidTarget(format string, args ...any) *Error {
	return Errorf(ErrInvalidTarget, format, args...)
}

func AccessDenied(format string, args ...any) *Error {
	return Errorf(ErrAccessDenied, format, args...)
}

func InvalidScope(format string, args ...any) *Error {
	return Errorf(ErrInvalidScope, format, args...)
}

// InvalidClient is a 401. basicChallenge adds WWW-Authenticate: Basic, which
// RFC 6749 5.2 requires when the client tried the Authorization header.
func InvalidClient(basicChallenge bool, format string, args ...any) *Error {
	e := &Error{Code: ErrInvalidClient, Description: fmt.Sprintf(format, args...), Status: http.StatusUnauthorized}
	if basicChallenge {
		e.Challenge = `Basic realm="token", charset="UTF-8"`
	}
	return e
}

// ServerError wraps an internal failure; the cause is logged, never sent.
func ServerError(err error) *Error {
	return &Error{Code: ErrServerError, Description: "internal error; see the server log", Status: http.StatusInternalServerError, Err: err}
}

// AsError returns err as an *Error, mapping anything else to server_error.
func AsError(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return ServerError(err)
}

// body is the wire form of an error response.
type body struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	MaxAge      *int64 `json:"max_age,omitempty"`
}

// WriteError is the one place an OAuth error response is written: JSON body,
// the right status, Cache-Control: no-store. Server errors are logged with their cause.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	oe := AsError(err)
	if oe.Code == ErrServerError {
		LoggerFrom(r.Context()).ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", oe.Err)
	}
	if oe.Challenge != "" {
		w.Header().Set("WWW-Authenticate", oe.Challenge)
	}
	WriteJSON(w, oe.HTTPStatus(), body{Error: oe.Code, Description: oe.Description, MaxAge: oe.MaxAge})
}

// WriteJSON writes v as a JSON response that no cache may keep (RFC 6749 5.1).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

type loggerKey struct{}

// ContextWithLogger makes WriteError log server errors through the party's
// own logger (httpx.Middleware sets it) instead of the process default.
func ContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger ContextWithLogger stored, or slog.Default().
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
