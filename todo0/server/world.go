package server

import (
	"context"
)

// followIdPIssuer keeps Todo0's users when the trusted IdP's URL changes
// (the sandbox started again with another -host or port on the same data
// directory). Todo0 keys its users on (iss, sub) and trusts exactly one IdP,
// so when every user was provisioned under one issuer that is no longer the
// configured one, that issuer was the same IdP under its previous URL:
// its users move to the current issuer instead of being provisioned afresh
// with none of their todos. It returns the previous issuer when it moved any.
func (s *Server) followIdPIssuer(ctx context.Context) (string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT iss FROM users LIMIT 2`)
	if err != nil {
		return "", err
	}
	var issuers []string
	for rows.Next() {
		var iss string
		if err := rows.Scan(&iss); err != nil {
			rows.Close()
			return "", err
		}
		issuers = append(issuers, iss)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(issuers) != 1 || issuers[0] == s.cfg.IdPIssuer {
		return "", err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE users SET iss = ? WHERE iss = ?`, s.cfg.IdPIssuer, issuers[0])
	return issuers[0], err
}
