package models

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"text/template"

	"github.com/iop-outcomes/outcomes/queries"
)

// Engine is an SQL engine the session-level models run on.
type Engine string

// The engines: the embedded DuckDB database, and Apache Spark over Parquet.
const (
	DuckDB Engine = "duckdb"
	Spark  Engine = "spark"
)

// The session-level models: the ones that read sessions and observations row by
// row, the work that needs a cluster past one machine. They are written once, in the
// SQL that DuckDB and Spark share; where the engines differ (date arithmetic, series
// expansion, ordered aggregation, creating a table) the file calls a function of
// sourceFuncs that writes each engine's spelling. Parameters go in as typed literals.
const (
	WeeksModel     = "0010_episode_weeks.sql"
	SequencesModel = "0020_relapse_sequences.sql"
	OutcomesModel  = "0030_episode_outcomes.sql"
)

// Source is the model SQL of one rebuild: the parameters and the cutoff that the
// shared models are written with.
type Source struct {
	P      Params
	Cutoff string
}

// Render writes model file for engine. For DuckDB it is the file's statements as
// they run (CREATE OR REPLACE TABLE ... AS ..., then COMMENT ON); for Spark it is the
// query alone, which the Spark job runs and writes as Parquet.
func (s Source) Render(engine Engine, file string) (string, error) {
	b, err := fs.ReadFile(queries.FS, path.Join("models", file))
	if err != nil {
		return "", err
	}
	t, err := template.New(file).Option("missingkey=error").Funcs(sourceFuncs(engine, s)).Parse(string(b))
	if err != nil {
		return "", fmt.Errorf("model %s: %w", file, err)
	}
	var out strings.Builder
	if err := t.Execute(&out, nil); err != nil {
		return "", fmt.Errorf("model %s: %w", file, err)
	}
	if engine == DuckDB {
		return out.String(), nil
	}
	stmts := Statements(out.String())
	if len(stmts) == 0 {
		return "", fmt.Errorf("model %s: no query", file)
	}
	return stmts[0], nil
}

// sourceFuncs are the functions a shared model calls, written for engine.
func sourceFuncs(engine Engine, s Source) template.FuncMap {
	duck := engine == DuckDB
	return template.FuncMap{
		// create opens the statement that makes a table of the query that follows:
		// DuckDB creates it; the Spark job writes the query's rows itself.
		"create": func(table string) string {
			if duck {
				return "CREATE OR REPLACE TABLE " + table + " AS"
			}
			return ""
		},
		// orderBy orders the rows a DuckDB table stores; Spark writes Parquet in no
		// particular order, and the reader orders what it needs.
		"orderBy": func(cols string) string {
			if duck {
				return "ORDER BY " + cols
			}
			return ""
		},
		// days is the number of days from a to b (a BIGINT in both engines).
		"days": func(a, b string) string {
			if duck {
				return "date_diff('day', " + a + ", " + b + ")"
			}
			return "CAST(datediff(" + b + ", " + a + ") AS BIGINT)"
		},
		// addDays is the date n days after d.
		"addDays": func(d, n string) string {
			if duck {
				return "(" + d + " + CAST(" + n + " AS INTEGER))"
			}
			return "date_add(" + d + ", CAST(" + n + " AS INT))"
		},
		// timestamp is the date d as a timestamp without time zone.
		"timestamp": func(d string) string {
			if duck {
				return "CAST(" + d + " AS TIMESTAMP)"
			}
			return "CAST(" + d + " AS TIMESTAMP_NTZ)"
		},
		// div is integer division, rounded toward zero, of non-negative numbers.
		"div": func(a string, b int) string {
			if duck {
				return "(" + a + " // " + strconv.Itoa(b) + ")"
			}
			return "(" + a + " div " + strconv.Itoa(b) + ")"
		},
		// series expands a row into one per integer from 1 to n (a BIGINT).
		"series": func(n string) string {
			if duck {
				return "unnest(generate_series(1, " + n + "))"
			}
			return "explode(sequence(CAST(1 AS BIGINT), CAST(" + n + " AS BIGINT)))"
		},
		// concatBy joins the text v of a group's rows in the order of key.
		"concatBy": func(v, key string) string {
			if duck {
				return "string_agg(" + v + ", '' ORDER BY " + key + ")"
			}
			return "concat_ws('', transform(array_sort(collect_list(named_struct('k', " + key + ", 'v', " + v + "))), x -> x.v))"
		},
		// listBy is the list of v over a group's rows in the order of key.
		"listBy": func(v, key string) string {
			if duck {
				return "list(" + v + " ORDER BY " + key + ")"
			}
			return "transform(array_sort(collect_list(named_struct('k', " + key + ", 'v', " + v + "))), x -> x.v)"
		},
		// The parameters, as literals of their types.
		"cutoff":       func() string { return "DATE '" + s.Cutoff + "'" },
		"landmarkDays": func() int { return s.P.LandmarkDays },
		"text":         quote,
		"weeklyScreens": func() string {
			if s.P.ScreensExpected == "weekly" {
				return "TRUE"
			}
			return "FALSE"
		},
		"relapseDefinition": func() string { return quote(s.P.RelapseDefinition) },
		"missingPolicy":     func() string { return quote(s.P.MissingPolicy) },
		// relapseSubstance is whether the drug-screen measure m counts as use
		// (parameter relapse_substances; empty: every uds_ result but the prescribed
		// buprenorphine and methadone).
		"relapseSubstance": func(m string) string {
			if len(s.P.RelapseSubstances) > 0 {
				return "(" + m + " IN (" + quoteList(s.P.RelapseSubstances) + "))"
			}
			return "(substr(" + m + ", 1, 4) = 'uds_' AND " + m + " NOT IN ('uds_specimen', 'uds_buprenorphine', 'uds_methadone'))"
		},
		// band is the label of the band value v falls in: the dose bands
		// (attended sessions per week) or the hours bands (ASAM levels of care).
		"band": func(v, which string) (string, error) {
			var edges []float64
			switch which {
			case "dose":
				edges = s.P.DoseBands
			case "hours":
				edges = s.P.HoursBands
			default:
				return "", fmt.Errorf("no band %q", which)
			}
			labels := bandLabels(edges)
			var b strings.Builder
			b.WriteString("CASE")
			for i := len(edges) - 1; i >= 0; i-- {
				fmt.Fprintf(&b, " WHEN %s >= CAST(%s AS DOUBLE) THEN %s", v, strconv.FormatFloat(edges[i], 'f', -1, 64), quote(labels[i]))
			}
			b.WriteString(" END")
			return b.String(), nil
		},
		// double writes a number as a DOUBLE, so that both engines divide in floating
		// point (Spark reads 7.0 as a decimal).
		"double": func(v float64) string {
			return "CAST(" + strconv.FormatFloat(v, 'f', -1, 64) + " AS DOUBLE)"
		},
	}
}

// quote writes v as an SQL text literal that both engines read alike: a quote is
// doubled, and a backslash (an escape in Spark's literals) is refused by the
// parameters' checks before it gets here.
func quote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote(v)
	}
	return strings.Join(q, ", ")
}

// Statements splits SQL text into its statements: each ends with a semicolon
// outside quotes and comments. Comments between statements are dropped; empty
// statements are left out.
func Statements(text string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			i += j - 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(text) {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			cur.WriteString(text[i:min(j+1, len(text))])
			i = j
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}
