package sqlitedb

import (
	"context"
	"fmt"
	"regexp"
)

// PruneBatch is how many rows Prune deletes per statement: each batch is its
// own short write transaction, taking its turn with the process's other
// writes (Stmts), so requests that write (an audit record, a grant) wait for
// one batch at most, not for the whole prune.
const PruneBatch = 2000

var tableName = regexp.MustCompile(`^[a-z_]+$`)

// Prune deletes the rows of table that match where (a condition on its
// columns, with args), in batches of PruneBatch, and returns how many it
// deleted. table must be a rowid table.
func Prune(ctx context.Context, st *Stmts, table, where string, args ...any) (int64, error) {
	if !tableName.MatchString(table) {
		return 0, fmt.Errorf("sqlitedb: bad table name %q", table)
	}
	q := `DELETE FROM ` + table + ` WHERE rowid IN (SELECT rowid FROM ` + table + ` WHERE ` + where + ` LIMIT ?)`
	var total int64
	for {
		res, err := st.Exec(ctx, q, append(args[:len(args):len(args)], PruneBatch)...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < PruneBatch {
			return total, nil
		}
	}
}
