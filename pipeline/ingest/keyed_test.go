package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/iop-outcomes/outcomes/pipeline/pseudo"
)

// TestPseudonymSQL checks the SQL function against keyer.keyed row by row, over
// several chunks of identifiers (short and long, repeated, padded with Unicode
// spaces, blank, NULL), under a constant kind, a kind per row, and NULL kinds.
func TestPseudonymSQL(t *testing.T) {
	ctx := context.Background()
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(7*i + 3)
	}
	key, err := pseudo.New(secret, "test")
	if err != nil {
		t.Fatal(err)
	}
	conn := macroConn(t)
	if err := registerPseudonym(conn, &keyer{key: key}); err != nil {
		t.Fatal(err)
	}

	const rows = 5000 // more than two chunks of 2048
	ids := func(i int) sql.NullString {
		switch i % 13 {
		case 0:
			return sql.NullString{}
		case 1:
			return sql.NullString{Valid: true}
		case 2:
			return sql.NullString{String: "   ", Valid: true}
		case 3:
			return sql.NullString{String: "\u00a0\u3000\u2003", Valid: true}
		case 4:
			return sql.NullString{String: fmt.Sprintf(" P%d ", i%97), Valid: true}
		case 5:
			return sql.NullString{String: fmt.Sprintf("\u00a0P%d\u3000", i%97), Valid: true}
		case 6:
			return sql.NullString{String: fmt.Sprintf("MRN-%08d-long-identifier", i), Valid: true}
		case 7:
			return sql.NullString{String: fmt.Sprintf("\u2003 MRN-%08d-long-identifier \u202f", i%50), Valid: true}
		case 8:
			return sql.NullString{String: "\tP1\n", Valid: true} // not Zs: kept
		case 9:
			return sql.NullString{String: "Zoë Ünïcode", Valid: true}
		default:
			return sql.NullString{String: fmt.Sprintf("P%d", i%97), Valid: true}
		}
	}
	kinds := func(i int) sql.NullString {
		switch i % 7 {
		case 0:
			return sql.NullString{String: "patient", Valid: true}
		case 1:
			return sql.NullString{String: "clinician", Valid: true}
		case 2:
			if i%3 == 0 {
				return sql.NullString{}
			}
			return sql.NullString{String: "a-kind-longer-than-twelve-bytes", Valid: true}
		default:
			return sql.NullString{String: "patient", Valid: true}
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE ids (i INTEGER, kind VARCHAR, id VARCHAR)`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO ids VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if _, err := ins.ExecContext(ctx, i, kinds(i), ids(i)); err != nil {
			t.Fatal(err)
		}
	}
	ins.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	ref := &keyer{key: key}
	want := func(kind, id sql.NullString) sql.NullString {
		if !kind.Valid || !id.Valid {
			return sql.NullString{}
		}
		if p := ref.keyed(kind.String, id.String); p != nil {
			return sql.NullString{String: p.(string), Valid: true}
		}
		return sql.NullString{}
	}
	for _, c := range []struct {
		name, sql string
		kind      func(int) sql.NullString
		id        func(int) sql.NullString
	}{
		{"constant kind", `SELECT i, pseudonym('patient', id) FROM ids ORDER BY i`,
			func(int) sql.NullString { return sql.NullString{String: "patient", Valid: true} }, ids},
		{"kind per row", `SELECT i, pseudonym(kind, id) FROM ids ORDER BY i`, kinds, ids},
		{"kind per row again (cached)", `SELECT i, pseudonym(kind, id) FROM ids ORDER BY i`, kinds, ids},
		{"constant NULL kind", `SELECT i, pseudonym(NULL, id) FROM ids ORDER BY i`,
			func(int) sql.NullString { return sql.NullString{} }, ids},
		{"constant identifier", `SELECT i, pseudonym(kind, ' P7 ') FROM ids ORDER BY i`, kinds,
			func(int) sql.NullString { return sql.NullString{String: " P7 ", Valid: true} }},
		{"constant blank identifier", `SELECT i, pseudonym(kind, '` + "\u3000" + `') FROM ids ORDER BY i`, kinds,
			func(int) sql.NullString { return sql.NullString{String: "\u3000", Valid: true} }},
	} {
		res, err := conn.QueryContext(ctx, c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n, nulls := 0, 0
		for res.Next() {
			var i int
			var got sql.NullString
			if err := res.Scan(&i, &got); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if w := want(c.kind(i), c.id(i)); got != w {
				t.Errorf("%s: row %d: pseudonym(%+v, %+v) = %+v, want %+v", c.name, i, c.kind(i), c.id(i), got, w)
			}
			if !got.Valid {
				nulls++
			}
			n++
		}
		if err := res.Err(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		res.Close()
		if n != rows {
			t.Errorf("%s: %d rows, want %d", c.name, n, rows)
		}
		t.Logf("%s: %d rows, %d NULL", c.name, n, nulls)
	}
}
